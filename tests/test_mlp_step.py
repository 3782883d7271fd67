"""The default model's step with its backward written out (vae/training/mlp_step.py) against the
autograd step it stands in for: the same gradients, the same draws, the same training, and the
models it must leave to TrainStep."""
import json

import pytest
import torch

from vae.config import ModelConfig, TrainConfig
from vae.models.model import VAE
from vae.run_files import TRAIN_CONFIG
from vae.training import mlp_step
from vae.training.mlp_step import MLPStep
from vae.training.step import TrainStep, make_optimizer
from vae.training.train import train

CPU = torch.device("cpu")


def steps_of(kind, config: ModelConfig, images: torch.Tensor, amp: bool = False, steps: int = 6,
             free_bits: float = 0.0, kl_weight: float = 1.0):
    """A fresh model after `steps` steps of `kind` (MLPStep or TrainStep) from the same start and
    seeds, the last batch short; and each step's (recon, KL) means."""
    torch.manual_seed(0)
    model = VAE(config)
    gen = torch.Generator().manual_seed(1)
    optimizer = make_optimizer(model, 1e-3)
    if kind is MLPStep:
        step = MLPStep(model, optimizer, images, gen, amp=amp, free_bits=free_bits)
    else:
        step = TrainStep(model, optimizer, images, gen, amp=amp, batch_size=32, free_bits=free_bits)
    perm = torch.randperm(len(images), generator=torch.Generator().manual_seed(2))
    means = []
    for i in range(steps):
        step.reset()
        idx = perm[i * 32:(i + 1) * 32] if i < steps - 1 else perm[-20:]
        step(idx, 1e-3 * (1 - i / steps), kl_weight=kl_weight)
        means.append((step.sums / len(idx)).tolist())
    return model, torch.tensor(means)


CASES = [(ModelConfig(), {}),
         (ModelConfig(hidden_dims=[64, 48], latent_dim=5, beta=4.0, binarize=True), {}),
         (ModelConfig(latent_dim=6, hidden_dims=[32]), {"free_bits": 0.5, "kl_weight": 0.3})]
CASE_IDS = ["default", "deeper-binarized-beta", "free-bits-warmup"]


@pytest.mark.parametrize("config, options", CASES, ids=CASE_IDS)
def test_its_gradient_is_autograds(mnist_test, config, options):
    """The first step's gradient of every parameter, to float32's rounding (the two sum in other orders)."""
    images = mnist_test.images[:512]
    written, _ = steps_of(MLPStep, config, images, steps=1, **options)
    autograd, _ = steps_of(TrainStep, config, images, steps=1, **options)
    for (name, a), b in zip(written.named_parameters(), autograd.parameters()):
        scale = b.grad.abs().max().item()
        assert scale > 0, name
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-5 * scale, msg=name)


@pytest.mark.parametrize("config, options", CASES, ids=CASE_IDS)
def test_it_trains_as_autograd_does_in_float32(mnist_test, config, options):
    """Six steps, the last a short batch, from the same draws: every logged mean, and every parameter.
    (Adam divides by the gradient's own size, so a weight whose gradient is rounding noise (a pixel
    that is always black) can move by up to lr a step either way: hence 1e-4.)"""
    images = mnist_test.images[:512]
    written, written_means = steps_of(MLPStep, config, images, **options)
    autograd, autograd_means = steps_of(TrainStep, config, images, **options)
    torch.testing.assert_close(written_means, autograd_means, rtol=1e-5, atol=1e-4)
    for (name, a), b in zip(written.named_parameters(), autograd.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-4, msg=name)


def test_rgb_images_reach_the_network_in_its_layout():
    """Colour images are stored (N, H, W, 3) and read by the network as (3, H, W): the written-out
    step must flatten them as autograd's step does (a transposed layout would train, on other pixels)."""
    images = torch.randint(0, 256, (96, 8, 8, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(3))
    config = ModelConfig(dataset="folder:colour", side=8, channels=3, hidden_dims=[16], latent_dim=3)
    written, written_means = steps_of(MLPStep, config, images, steps=1)
    autograd, autograd_means = steps_of(TrainStep, config, images, steps=1)
    torch.testing.assert_close(written_means, autograd_means)
    torch.testing.assert_close(written.encoder[1].weight.grad, autograd.encoder[1].weight.grad, rtol=1e-4, atol=1e-7)


def test_free_bits_hold_a_unit_still(mnist_test):
    """A unit whose batch-mean KL is under its free bits gets no gradient from its KL: with only the
    KL to train (kl_weight large, the recon's share negligible) the free bits change the result."""
    images = mnist_test.images[:256]
    config = ModelConfig(latent_dim=4, hidden_dims=[16])
    free, _ = steps_of(MLPStep, config, images, free_bits=50.0)
    held, _ = steps_of(MLPStep, config, images, free_bits=0.0)
    assert not torch.equal(free.encoder[-1].weight, held.encoder[-1].weight)


def test_bfloat16_products_train_near_autocast(mnist_test):
    """With bfloat16 products its steps stay near autocast's, which casts at the same places; and
    near float32's. (Training to the same quality: tests/test_precision.py.)"""
    images = mnist_test.images[:512]
    _, written = steps_of(MLPStep, ModelConfig(), images, amp=True)
    _, autocast = steps_of(TrainStep, ModelConfig(), images, amp=True)
    _, float32 = steps_of(MLPStep, ModelConfig(), images, amp=False)
    torch.testing.assert_close(written, autocast, rtol=2e-3, atol=0.5)
    torch.testing.assert_close(written, float32, rtol=2e-3, atol=0.5)
    assert not torch.equal(written, float32)  # the products did run in bfloat16


@pytest.mark.parametrize("change", [
    {"arch": "conv"}, {"latent": "categorical"}, {"likelihood": "gaussian"}, {"eps": "uniform"},
    {"conditional": True}])
def test_other_models_take_the_autograd_step(change):
    assert mlp_step.applies(ModelConfig(), CPU, parallel=False)
    assert not mlp_step.applies(ModelConfig(**change), CPU, parallel=False)


def test_gpus_and_data_parallel_runs_take_the_autograd_step():
    assert not mlp_step.applies(ModelConfig(), torch.device("cuda"), parallel=False)
    assert not mlp_step.applies(ModelConfig(), CPU, parallel=True)


def test_a_run_records_which_step_trained_it(tiny_data_dir, tmp_path):
    for config, backward in ((ModelConfig(latent_dim=4, hidden_dims=[32]), "written out"),
                             (ModelConfig(latent="categorical", latent_dim=4, hidden_dims=[32]), "autograd")):
        out = tmp_path / backward
        train(config, TrainConfig(epochs=1, train_limit=64, batch_size=32, data_dir=str(tiny_data_dir), device="cpu"),
              out, show_progress=False)
        assert json.loads((out / TRAIN_CONFIG).read_text())["backward"] == backward
