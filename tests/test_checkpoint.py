"""Saving and loading: round trips, atomic writes, and clear errors for broken checkpoints."""
import json

import pytest
import torch

from vae.config import ARCHITECTURES, ModelConfig
from vae.files import append_jsonl
from vae.models.model import VAE
from vae.run_files import CONFIG, HISTORY, WEIGHTS
from vae.training.checkpoint import load_checkpoint, save_checkpoint
from vae.training.checkpoint_files import CheckpointError, check_weights_file, read_history, weights_hash


@pytest.fixture
def saved(tmp_path):
    model = VAE(ModelConfig(latent_dim=4, hidden_dims=[32]))
    save_checkpoint(model, tmp_path, epoch=3, step=120)
    return model, tmp_path


MODELS = [ModelConfig(arch=arch) for arch in ARCHITECTURES] + [
    ModelConfig(arch="mlp", latent="categorical"), ModelConfig(arch="conv", latent="categorical", latent_dim=6)]


@pytest.mark.parametrize("config", MODELS, ids=lambda c: f"{c.arch}-{c.latent}")
def test_round_trip_gives_identical_outputs(config, tmp_path, batch):
    model = VAE(config).eval()
    save_checkpoint(model, tmp_path, epoch=1, step=10)
    loaded = load_checkpoint(tmp_path)
    assert loaded.config == model.config and (loaded.epoch, loaded.step) == (1, 10)
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    with torch.no_grad():
        a, b = model(batch, generator=g1), loaded.model(batch, generator=g2)
    assert torch.equal(a.z, b.z) and torch.equal(a.logits, b.logits) and torch.equal(a.posterior.code, b.posterior.code)


def test_files_are_safetensors_and_json(saved):
    _, folder = saved
    assert json.loads((folder / CONFIG).read_text())["arch"] == "mlp"
    assert (folder / WEIGHTS).read_bytes()[8:9] == b"{"  # safetensors: u64 length, then a JSON header
    assert not list(folder.glob("*.tmp"))


def test_missing_weights(saved):
    _, folder = saved
    (folder / WEIGHTS).unlink()
    with pytest.raises(CheckpointError, match="model.safetensors is missing"):
        load_checkpoint(folder)


def test_missing_config(saved):
    _, folder = saved
    (folder / CONFIG).unlink()
    with pytest.raises(CheckpointError, match="config.json is missing"):
        load_checkpoint(folder)


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"arch": "transformer"}', '{"colour": 3}'])
def test_invalid_config(saved, text):
    _, folder = saved
    (folder / CONFIG).write_text(text)
    with pytest.raises(CheckpointError, match="config.json is not a valid model config"):
        load_checkpoint(folder)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_weights(saved, damage):
    _, folder = saved
    data = (folder / WEIGHTS).read_bytes()
    broken = {"truncate": data[: len(data) // 2], "garbage": b"\x00\xff" * 100, "empty": b""}[damage]
    (folder / WEIGHTS).write_bytes(broken)
    with pytest.raises(CheckpointError, match="model.safetensors is corrupt or truncated"):
        load_checkpoint(folder)


@pytest.mark.parametrize("change,what", [({"latent_dim": 9}, "3 tensors of another shape"),
                                         ({"arch": "conv"}, "tensors missing, 4 tensors unexpected")])
def test_weights_that_do_not_fit_the_config_are_one_short_line(saved, change, what):
    """From the header alone (as the checkpoint picker lists folders) and on loading: one line that
    says how they differ, not the parameter names."""
    _, folder = saved
    cfg = json.loads((folder / CONFIG).read_text())
    (folder / CONFIG).write_text(json.dumps({**cfg, **change}))
    config = ModelConfig(**{**cfg, **change})
    for check in (lambda: check_weights_file(folder, config), lambda: load_checkpoint(folder)):
        with pytest.raises(CheckpointError, match="does not fit config.json") as err:
            check()
        assert what in str(err.value) and "\n" not in str(err.value) and len(str(err.value)) < 250
        assert "weight" not in str(err.value).split(":", 2)[-1]  # no parameter names


def test_not_a_folder(tmp_path):
    with pytest.raises(CheckpointError, match="not a checkpoint folder"):
        load_checkpoint(tmp_path / "nope")


def test_history_ignores_a_partial_last_line_and_appends_after_it(tmp_path):
    append_jsonl(tmp_path / HISTORY, {"epoch": 1})
    with open(tmp_path / HISTORY, "a") as f:
        f.write('{"epoch": 2, "test_')  # what a killed writer leaves
    assert read_history(tmp_path) == [{"epoch": 1}]
    append_jsonl(tmp_path / HISTORY, {"epoch": 2})
    assert read_history(tmp_path) == [{"epoch": 1}, {"epoch": 2}]


def test_weights_hash_changes_with_the_weights(saved):
    model, folder = saved
    before = weights_hash(folder)
    assert before == weights_hash(folder)
    with torch.no_grad():
        next(model.parameters()).add_(1.0)
    save_checkpoint(model, folder, epoch=4, step=160)
    assert weights_hash(folder) != before


def test_packed_copy_is_half_the_size_and_decodes_the_same(saved, tmp_path, batch):
    from vae.training.checkpoint import pack_checkpoint

    model, folder = saved
    pack_checkpoint(folder, tmp_path / "packed")
    packed = load_checkpoint(tmp_path / "packed")
    assert next(packed.model.parameters()).dtype == torch.float32
    assert (tmp_path / "packed" / WEIGHTS).stat().st_size < 0.6 * (folder / WEIGHTS).stat().st_size
    with torch.no_grad():
        mu = model.eval().encode(batch)[0]
        assert (packed.model.decode(mu) - model.decode(mu)).abs().max() < 2e-2
    with pytest.raises(FileExistsError):
        pack_checkpoint(folder, tmp_path / "packed")


# Reading a folder without torch (vae/training/checkpoint_files.py): what the app's first page relies on.

@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_a_weight_that_is_not_a_finite_number_is_found_from_its_bits_in_every_float_kind(tmp_path, dtype, bad):
    """numpy has no bfloat16: the check reads each float's exponent bits, which it does for all kinds."""
    model = VAE(ModelConfig(latent_dim=4, hidden_dims=[32]))
    with torch.no_grad():
        # the largest finite number of the file's kind (a float32 model's, for float64): fine
        largest = torch.finfo(min(dtype, torch.float32, key=lambda d: d.itemsize)).max
        next(model.decoder.parameters()).view(-1)[3] = largest
    save_checkpoint(model, tmp_path, epoch=1, step=1, dtype=dtype)
    check_weights_file(tmp_path)
    with torch.no_grad():
        next(model.decoder.parameters()).view(-1)[7] = bad
    save_checkpoint(model, tmp_path, epoch=2, step=2, dtype=dtype)
    with pytest.raises(CheckpointError, match="not finite numbers"):
        check_weights_file(tmp_path)


def test_a_fit_is_checked_with_torch_once_per_config_shapes_and_version(saved, monkeypatch):
    import vae.training.checkpoint_files
    import vae.training.weights
    from vae.run_files import FIT
    from vae.training.checkpoint_files import read_config

    _, folder = saved
    config = read_config(folder)
    check_weights_file(folder, config)
    assert (folder / FIT).is_file()
    checks = []
    monkeypatch.setattr(vae.training.weights, "check_fit", lambda *args: checks.append(args))
    check_weights_file(folder, config)
    assert checks == []  # recorded: no torch needed
    check_weights_file(folder, ModelConfig(**{**config.to_dict(), "beta": 2.0}))
    assert len(checks) == 1  # another config: checked again
    monkeypatch.setattr(vae.training.checkpoint_files, "__version__", "another")
    check_weights_file(folder, config)
    assert len(checks) == 2  # another version of the code that builds models: checked again


def test_a_fit_recorded_for_one_config_does_not_hide_a_misfit_after_the_config_changed(saved):
    from vae.training.checkpoint_files import read_config

    _, folder = saved
    check_weights_file(folder, read_config(folder))  # fits, and recorded so
    cfg = json.loads((folder / CONFIG).read_text())
    (folder / CONFIG).write_text(json.dumps({**cfg, "latent_dim": 9}))
    with pytest.raises(CheckpointError, match="3 tensors of another shape"):
        check_weights_file(folder, read_config(folder))


def test_an_opened_checkpoint_builds_its_model_once_when_first_used_and_as_load_checkpoint_does(saved):
    from vae.training.checkpoint_files import open_checkpoint

    model, folder = saved
    opened = open_checkpoint(folder)
    assert (opened.epoch, opened.step, opened.latent.size_text) == (3, 120, "4") and not opened.built
    assert opened.model is opened.model and opened.built
    loaded = load_checkpoint(folder)
    for a, b, c in zip(opened.model.state_dict().values(), loaded.model.state_dict().values(),
                       model.state_dict().values(), strict=True):
        assert torch.equal(a, b) and torch.equal(a, c)


def test_listing_and_opening_the_bundled_checkpoints_import_no_torch():
    """Their fit.json is up to date (a stale one would make the app's first start import torch to check
    again, and rewrite the file in the clone)."""
    import subprocess
    import sys

    from tests.test_layout import ROOT

    probe = ("import sys; from vae.services.runs import list_runs; from vae.training.checkpoint_files import "
             "open_checkpoint; runs = list_runs('checkpoints'); assert runs and all(r.ok for r in runs), runs; "
             "c = open_checkpoint('checkpoints/default'); "
             "print(c.epoch > 0, c.latent.size_text, 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["True", "32", "False"]
