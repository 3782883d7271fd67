"""What the latent pad's browser side is sent besides the decoder: the test map's file (codes,
map positions, labels and the overview image) and the numbers that place map points on that image."""
import io

import numpy as np
from PIL import Image
from safetensors.numpy import load_file

from ui.charts import map_frame, map_raster
from vae.services.export import map_file_name, write_map_file


def _map(n=50, z=4, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, z)).astype(np.float32), rng.uniform(-7, 12, (n, 2)).astype(np.float32),
            rng.integers(0, 10, n))


def test_the_map_file_holds_what_the_browser_reads(tmp_path):
    mu, xy, labels = _map()
    raster, _ = map_raster(xy, labels)
    buf = io.BytesIO()
    Image.fromarray(raster).save(buf, format="PNG")
    path = tmp_path / map_file_name("ab" * 32, mu, xy, labels, buf.getvalue())
    write_map_file(path, mu, xy, labels, buf.getvalue())
    t = load_file(str(path))
    assert t["mu"].dtype == np.float16 and np.array_equal(t["mu"], mu.astype(np.float16))
    assert t["xy"].dtype == np.float32 and np.array_equal(t["xy"], xy)
    assert t["labels"].dtype == np.int32 and np.array_equal(t["labels"], labels)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(t["map_png"].tobytes()))), raster)
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically


def test_the_map_file_name_follows_its_contents():
    mu, xy, labels = _map()
    name = map_file_name("ab" * 32, mu, xy, labels, b"png")
    assert name.startswith("map-abababababababab-") and name.endswith(".safetensors")
    assert map_file_name("ab" * 32, mu, xy, labels, b"png") == name
    moved = xy.copy()
    moved[0, 0] += 1
    assert map_file_name("ab" * 32, mu, moved, labels, b"png") != name
    assert map_file_name("ab" * 32, mu, xy, labels, b"another picture") != name


def test_map_frame_is_the_rasters_own_placement():
    """The browser places the star with map_frame's numbers; the server's raster uses to_pixels."""
    _, xy, labels = _map()
    _, to_pixels = map_raster(xy, labels)
    f = map_frame(xy)
    points = np.array([[0.0, 0.0], [3.5, -2.0], xy[7]])
    by_frame = f["pad"] + (points - np.array(f["lo"])) / f["span"] * (f["size"] - 2 * f["pad"])
    assert np.allclose(by_frame, to_pixels(points), atol=1e-4)


def test_an_exported_network_keeps_its_layer_list_in_its_file(tmp_path):
    """The app's first page finds the browser's decoder by its file, without building the model."""
    import json

    from safetensors.numpy import save_file

    from vae.config import ModelConfig
    from vae.models.model import VAE
    from vae.services.export import exported_layers, write_decoder_file

    path = tmp_path / "decoder.safetensors"
    assert exported_layers(path) is None
    layers = write_decoder_file(VAE(ModelConfig(latent_dim=3, hidden_dims=[16])), path)
    assert layers and exported_layers(path) == layers
    save_file({"w": np.zeros(2, np.float16)}, str(path))  # written before the list was kept in it
    assert exported_layers(path) is None
    save_file({"w": np.zeros(2, np.float16)}, str(path), metadata={"layers": json.dumps(layers), "layers_form": "0"})
    assert exported_layers(path) is None  # a list of an older form
    path.write_bytes(b"garbage")
    assert exported_layers(path) is None
