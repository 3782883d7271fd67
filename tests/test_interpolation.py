"""Interpolation paths and traversals in the latent space."""
import pytest
import torch

from vae.analysis.walks import analogy, interpolate, traversal


@pytest.mark.parametrize("method", ["linear", "slerp"])
def test_paths_start_and_end_at_the_endpoints(method):
    z0, z1 = torch.randn(8), torch.randn(8)
    path = interpolate(z0, z1, 7, method)
    assert path.shape == (7, 8)
    assert torch.allclose(path[0], z0, atol=1e-5) and torch.allclose(path[-1], z1, atol=1e-5)


def test_slerp_keeps_a_typical_norm_where_the_chord_shrinks():
    z0, z1 = torch.randn(2, 64, generator=torch.Generator().manual_seed(0))
    middle_linear = interpolate(z0, z1, 9, "linear")[4].norm()
    middle_slerp = interpolate(z0, z1, 9, "slerp")[4].norm()
    assert middle_linear < 0.8 * min(z0.norm(), z1.norm()) < middle_slerp


def test_slerp_of_parallel_codes_is_the_line():
    z = torch.randn(4)
    assert torch.allclose(interpolate(z, 2 * z, 5, "slerp"), interpolate(z, 2 * z, 5, "linear"))


def test_bad_requests_are_refused():
    with pytest.raises(ValueError):
        interpolate(torch.zeros(2), torch.ones(2), 1)
    with pytest.raises(ValueError):
        interpolate(torch.zeros(2), torch.ones(2), 5, "cubic")


def test_traversal_sweeps_one_dimension_only():
    base = torch.randn(6)
    sweep = traversal(base, 2, torch.linspace(-3, 3, 5))
    assert torch.equal(sweep[:, 2], torch.linspace(-3, 3, 5))
    assert torch.equal(sweep[:, [0, 1, 3, 4, 5]], base[[0, 1, 3, 4, 5]].expand(5, 5))


def test_an_analogy_moves_c_by_what_takes_a_to_b():
    g = torch.Generator().manual_seed(0)
    a, b, c = (torch.randn(8, generator=g) for _ in range(3))
    assert torch.allclose(analogy(a, b, c), c + b - a)
    assert torch.equal(analogy(a, a, c), c) and torch.allclose(analogy(a, b, a), b)


@pytest.mark.parametrize("checkpoint", ["default", "mnist-categorical"])
def test_three_picks_on_the_map_make_an_analogy(monkeypatch, checkpoint):
    import ui.caches
    from tests.app_support import ROOT, open_app

    monkeypatch.setattr(ui.caches, "CHECKPOINTS_DIR", ROOT / "checkpoints")
    at = open_app("views/map.py", query_params={"picked": "3,2,1", "checkpoint": checkpoint, "projection": "pca"})
    assert any(h.value == "Analogy: #3 : #2 :: #1 : ?" for h in at.subheader)
    if checkpoint == "default":
        assert any("nearest real digit" in i.caption for e in at.get("image") for i in e.proto.imgs)
        assert any(b.label == "Open the analogy's code in the sliders" for b in at.button)
    else:
        assert any("categorical" in i.value for i in at.info)
