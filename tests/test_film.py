"""The map through training (vae/services/film.py): every epoch's test codes saved by the training loop,
dropped on resume past the checkpoint, read back (damaged files skipped) and aligned into frames."""
import numpy as np
import torch

from vae.config import ModelConfig, TrainConfig
from vae.models.latents import CategoricalLatent, GaussianLatent
from vae.run_files import FILM, film_path
from vae.services.film import drop_epochs_after, film_frames, film_recorder, read_film
from vae.training.checkpoint import load_checkpoint
from vae.training.evaluate import encode_all
from vae.training.train import train


def test_training_saves_each_epochs_codes_and_a_resume_keeps_them_in_step(tiny_data_dir, tmp_path, mnist_test):
    cfg = ModelConfig(latent_dim=4, hidden_dims=[32])
    train(cfg, TrainConfig(epochs=2, batch_size=100, data_dir=str(tiny_data_dir)), tmp_path, show_progress=False,
          on_epoch=film_recorder(tmp_path))
    film = read_film(tmp_path, GaussianLatent(4))
    assert sorted(film) == [1, 2] and film[2].shape == (200, 4)
    assert (tmp_path / FILM / "epoch-0002.safetensors").stat().st_size < 200 * 4 * 2 + 500  # float16
    codes = encode_all(load_checkpoint(tmp_path).model, mnist_test.images[600:800])[0].numpy()
    np.testing.assert_allclose(film[2], codes, atol=2e-3)  # the last epoch's are the model's own
    # A kill after epoch 3's codes but before its checkpoint: the resume drops them, then writes them again.
    (tmp_path / FILM / "epoch-0003.safetensors").write_bytes(b"from a killed run")
    (tmp_path / FILM / ".epoch-0003.safetensors.x.tmp").write_bytes(b"")
    train(None, TrainConfig(epochs=3, batch_size=100, data_dir=str(tiny_data_dir)), tmp_path, resume=True,
          show_progress=False, on_epoch=film_recorder(tmp_path))
    assert sorted(read_film(tmp_path, GaussianLatent(4))) == [1, 2, 3] and not list((tmp_path / FILM).glob("*.tmp"))


def test_categorical_runs_keep_the_categories(tiny_data_dir, tmp_path):
    cfg = ModelConfig(latent="categorical", latent_dim=5, categories=3, hidden_dims=[32])
    train(cfg, TrainConfig(epochs=1, batch_size=100, data_dir=str(tiny_data_dir)), tmp_path, show_progress=False,
          on_epoch=film_recorder(tmp_path))
    codes = read_film(tmp_path, CategoricalLatent(5, 3))[1]
    assert codes.shape == (200, 15) and set(np.unique(codes)) <= {0.0, 1.0}
    assert (codes.reshape(200, 5, 3).sum(-1) == 1).all()  # one-hot per variable
    assert read_film(tmp_path, GaussianLatent(15)) == {}  # read as another kind's codes: none


def test_damaged_files_are_skipped_and_old_runs_have_no_film(tmp_path):
    gaussian = GaussianLatent(2)
    assert read_film(tmp_path, gaussian) == {}
    from safetensors.torch import save_file

    film_path(tmp_path, 1).parent.mkdir()
    save_file({"codes": torch.zeros(10, 2, dtype=torch.float16)}, film_path(tmp_path, 1))
    film_path(tmp_path, 2).write_bytes(b"\x00" * 20)
    assert sorted(read_film(tmp_path, gaussian)) == [1]
    drop_epochs_after(tmp_path, 0)
    assert read_film(tmp_path, gaussian) == {}


def test_frames_follow_one_set_of_digits_and_each_is_aligned_to_the_next():
    g = np.random.default_rng(0)
    last = g.normal(size=(500, 6)) * [4, 2, 1, 0.5, 0.2, 0.1]
    angle = 2.0
    turn = np.eye(6)
    turn[:2, :2] = [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
    epochs = {1: last @ turn * 0.5, 2: last @ turn.T, 3: last}  # the same layout, turned and shrunk
    pick, frames = film_frames(epochs, count=100)
    assert pick.shape == (100,) and list(frames) == [1, 2, 3]
    for epoch in (1, 2):
        np.testing.assert_allclose(frames[epoch], frames[3], atol=1e-3)  # aligned: nothing moves
