"""Interpolation paths and traversals in the latent space."""
import pytest
import torch

from vae.analysis.walks import interpolate, traversal


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
