"""Reading data: IDX files gzipped and plain, the bundled test set, and the data-missing error."""
from pathlib import Path

import numpy as np
import pytest

from vae.data import DataMissingError, load_split, read_idx, split_size, write_idx
from vae.datasets import BUNDLED_ROOT, NAMES, dataset_info, raw_folder

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip(tmp_path, gz):
    array = np.random.default_rng(0).integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    path = write_idx(tmp_path / "images-idx3-ubyte", array, gz=gz)
    assert np.array_equal(read_idx(path), array)


def test_idx_rejects_bad_files(tmp_path):
    (tmp_path / "x").write_bytes(b"hello world, not idx")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "x")
    header_says_more = write_idx(tmp_path / "y", np.zeros((3, 2, 2), np.uint8))
    header_says_more.write_bytes(header_says_more.read_bytes()[:-1])
    with pytest.raises(ValueError, match="header says"):
        read_idx(header_says_more)


def test_bundled_test_set_is_the_real_mnist_test_set(mnist_test):
    assert mnist_test.images.shape == (10000, 28, 28) and mnist_test.images.dtype.is_floating_point is False
    counts = np.bincount(mnist_test.labels.numpy(), minlength=10).tolist()
    assert counts == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_reads_gz_and_plain_from_a_data_dir(tiny_data_dir):
    train = load_split("mnist", "train", tiny_data_dir)  # gzipped in the fixture
    test = load_split("mnist", "test", tiny_data_dir)  # plain
    assert train.images.shape == (600, 28, 28) and test.images.shape == (200, 28, 28)


def test_a_splits_size_is_its_image_count_and_none_where_it_is_missing(tiny_data_dir, no_system_datasets, tmp_path):
    assert split_size("mnist", "train", tiny_data_dir) == len(load_split("mnist", "train", tiny_data_dir).images) == 600
    assert split_size("mnist", "test", tiny_data_dir) == 200
    assert split_size("mnist", "train", tmp_path) is None  # nothing there, and nothing downloaded
    assert split_size("mnist", "test", tmp_path) == 10_000  # the bundled test set


def test_data_dir_from_the_environment(tiny_data_dir, monkeypatch):
    monkeypatch.setenv("VAE_DATA_DIR", str(tiny_data_dir))
    assert len(load_split("mnist", "train").images) == 600


def test_missing_data_names_the_folder_and_the_files(tmp_path):
    with pytest.raises(DataMissingError) as err:
        load_split("mnist", "train", tmp_path, download=False)
    message = str(err.value)
    assert str((tmp_path / "MNIST" / "raw").resolve()) in message
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        assert name in message
    assert "VAE_DATA_DIR" in message and "VAE_DATA_MIRROR" in message


def test_fashion_mnist_from_torchvisions_layout(tmp_path, mnist_test):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    write_idx(raw / "t10k-images-idx3-ubyte", mnist_test.images[:30].numpy(), gz=True)
    write_idx(raw / "t10k-labels-idx1-ubyte", mnist_test.labels[:30].numpy(), gz=True)
    split = load_split("fashion-mnist", "test", tmp_path, download=False)
    assert split.images.shape == (30, 28, 28)


def test_fashion_mnist_missing_names_its_folder(no_system_datasets, tmp_path):
    with pytest.raises(DataMissingError, match="FashionMNIST"):
        load_split("fashion-mnist", "train", tmp_path, download=False)


def test_missing_data_tries_a_download_first(no_system_datasets, tmp_path, monkeypatch):
    import vae.download

    tried = []

    def refuse(dataset, root, progress=None, names=None):
        tried.append((dataset, root, names))
        raise vae.download.DownloadError("no network here")

    monkeypatch.setattr(vae.download, "download", refuse)
    with pytest.raises(DataMissingError, match=r"could not be downloaded \(no network here\)"):
        load_split("fashion-mnist", "train", tmp_path)
    assert tried == [("fashion-mnist", tmp_path, ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"])]


@pytest.mark.parametrize("dataset", ["mnist", "fashion-mnist"])
def test_both_test_sets_ship_with_the_project(no_system_datasets, tmp_path, dataset):
    split = load_split(dataset, "test", tmp_path, download=False)
    assert split.images.shape == (10_000, 28, 28) and sorted(set(split.labels.tolist())) == list(range(10))
    assert dataset == "mnist" or (split.labels.bincount() == 1000).all()  # Fashion-MNIST: 1,000 of each


DOWNLOADED = [name for name in NAMES if not dataset_info(name).generated]


@pytest.mark.parametrize("name", DOWNLOADED)
def test_each_dataset_record_has_its_files_and_its_attribution(name):
    """A record (vae/datasets.py) is all a dataset needs: its test set and classifier ship with the
    project, its checksums name the four IDX files, and the README credits its makers."""
    info = dataset_info(name)
    assert {f"{prefix}-{kind}" for prefix in ("train", "t10k") for kind in ("images-idx3-ubyte", "labels-idx1-ubyte")} \
        == set(info.idx_md5)
    assert info.classifier_path.is_file() and len(info.class_names) == 10
    assert all((raw_folder(name, BUNDLED_ROOT) / f"t10k-{kind}.gz").is_file()
               for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"))
    attribution = " ".join((ROOT / "README.md").read_text().split("## Attribution")[1].split())
    makers, *_, license_name = info.license.split("; ")
    assert makers in attribution and license_name in attribution


@pytest.mark.parametrize("name", DOWNLOADED)
def test_the_mirrors_are_torchvisions(name):
    datasets = pytest.importorskip("torchvision.datasets")  # installed for a benchmark only
    ours = {"mnist": datasets.MNIST, "fashion-mnist": datasets.FashionMNIST}[name]
    assert list(dataset_info(name).mirrors) == ours.mirrors


def test_the_generated_sprites_ship_their_test_set_and_draw_the_rest_the_same_everywhere(tmp_path):
    """The sprites' test set ships with the project (drawn by vae/sprites.py, its factors beside it);
    the training set is drawn where it is missing, and drawing again gives the same bytes."""
    from vae.data import generate_split, load_factors

    info = dataset_info("sprites")
    assert info.generated and not info.mirrors and info.class_names == ("square", "ellipse", "heart")
    test = load_split("sprites", "test", tmp_path, download=False)
    factors = load_factors("sprites", "test", tmp_path)
    assert test.images.shape == (10_000, 32, 32) and factors.shape == (10_000, 5)
    assert np.array_equal(factors[:, 0], test.labels.numpy())  # the class is the shape
    drawn = generate_split("sprites", "test", tmp_path / "again")
    shipped = raw_folder("sprites", BUNDLED_ROOT)
    assert all((drawn / f.name).read_bytes() == f.read_bytes() for f in shipped.iterdir())
    attribution = " ".join((ROOT / "README.md").read_text().split("## Attribution")[1].split())
    assert "vae/sprites.py" in attribution and "Matthey" in attribution
