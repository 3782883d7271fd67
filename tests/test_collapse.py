"""Against posterior collapse (issue #25): the KL warm-up and free bits change the training objective
exactly as specified, and a run with them logs its KL weight."""
import pytest
import torch

from vae.config import ModelConfig, TrainConfig
from vae.files import read_jsonl
from vae.models.losses import training_loss
from vae.training.checkpoint import read_history
from vae.training.train import train


def test_without_either_the_objective_is_the_mean_beta_elbo():
    recon = torch.tensor([80.0, 100.0])
    kl_units = torch.tensor([[1.0, 2.0, 0.0], [3.0, 0.5, 0.5]])
    assert training_loss(recon, kl_units, beta=1.0) == pytest.approx(((recon + kl_units.sum(-1))).mean().item())
    assert training_loss(recon, kl_units, beta=4.0) == pytest.approx((recon + 4 * kl_units.sum(-1)).mean().item())


def test_the_warm_up_scales_the_kl_and_its_gradient():
    for weight in (0.0, 0.25, 1.0):
        kl = torch.tensor([[2.0, 3.0]], requires_grad=True)  # (1, 2)
        loss = training_loss(torch.tensor([90.0]), kl, beta=2.0, kl_weight=weight)
        assert loss.item() == pytest.approx(90.0 + 2.0 * weight * 5.0)
        loss.backward()
        assert torch.allclose(kl.grad, torch.full((1, 2), 2.0 * weight))


def test_free_bits_floor_each_units_batch_mean_and_stop_its_gradient_below():
    kl = torch.tensor([[0.1, 3.0], [0.3, 1.0]], requires_grad=True)  # unit 0: mean 0.2, unit 1: mean 2.0
    loss = training_loss(torch.zeros(2), kl, beta=1.0, free_bits=0.5)
    assert loss.item() == pytest.approx(0.5 + 2.0)  # unit 0 counts as its floor
    loss.backward()
    assert torch.equal(kl.grad[:, 0], torch.zeros(2))  # below the floor: nothing to gain by closing it
    assert torch.allclose(kl.grad[:, 1], torch.full((2,), 0.5))  # above it: the batch mean's gradient


def test_the_kl_weight_rises_over_the_warm_up_epochs():
    assert TrainConfig().kl_weight(0, 100) == 1.0
    cfg = TrainConfig(kl_warmup=2)
    assert [cfg.kl_weight(s, 100) for s in (0, 50, 100, 200, 500)] == [0.0, 0.25, 0.5, 1.0, 1.0]
    with pytest.raises(ValueError, match="lr_warmup, kl_warmup and free_bits must be >= 0"):
        TrainConfig(free_bits=-1)


def test_a_run_with_both_logs_its_kl_weight_and_keeps_units_open(tmp_path, tiny_data_dir):
    cfg = ModelConfig(latent_dim=8, hidden_dims=[64])
    train(cfg, TrainConfig(epochs=2, batch_size=50, train_limit=500, log_every=2, kl_warmup=1.5, free_bits=0.5,
                           data_dir=str(tiny_data_dir)), tmp_path, show_progress=False)
    weights = [line["kl_weight"] for line in read_jsonl(tmp_path / "steps.jsonl")]
    assert weights[0] < 0.2 and weights == sorted(weights) and weights[-1] == 1.0
    assert read_history(tmp_path)[-1]["active_units"] >= 1


@pytest.mark.slow
def test_compare_joins_a_beta_sweeps_runs_on_the_rate_distortion_plane(tmp_path, monkeypatch):
    import json
    import shutil
    from pathlib import Path

    import ui.caches
    from tests.app_support import open_app

    bundled = Path(__file__).resolve().parents[1] / "checkpoints" / "article-eps-gaussian"
    for beta in (0.5, 2.0):
        shutil.copytree(bundled, tmp_path / f"sweep-beta{beta:g}")
        config = tmp_path / f"sweep-beta{beta:g}" / "config.json"
        config.write_text(json.dumps({**json.loads(config.read_text()), "beta": beta}))
    monkeypatch.setattr(ui.caches, "CHECKPOINTS_DIR", tmp_path)
    at = open_app("views/compare.py", query_params={"checkpoint": "sweep-beta0.5"})
    traces = [t for chart in at.get("plotly_chart") for t in json.loads(chart.proto.spec)["data"]]
    line = next(t for t in traces if t.get("name") == "β sweep sweep")
    assert len(line["x"]) == 2
    assert any("active units" in t.get("hovertemplate", "") for t in traces)
