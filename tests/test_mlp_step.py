"""The default model's step with its backward written out (vae/training/mlp_step.py) against the
autograd step it stands in for: the same gradients, the same draws, the same training, and the
models it must leave to TrainStep."""
import contextlib
import json
from unittest import mock

import pytest
import torch

from vae.config import ModelConfig, TrainConfig
from vae.models.model import VAE, to_unit
from vae.run_files import TRAIN_CONFIG
from vae.training import mlp_step
from vae.training.adam import Adam
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


def first_batch_kls(config: ModelConfig, images: torch.Tensor) -> torch.Tensor:
    """Each unit's batch-mean KL on steps_of's first batch, at the start, in order: (units,)."""
    torch.manual_seed(0)
    model = VAE(config)
    first = torch.randperm(len(images), generator=torch.Generator().manual_seed(2))[:32]
    with torch.no_grad():
        return model.posterior(to_unit(images[first])).kl_per_unit().mean(0).sort().values


def halfway_free_bits(config: ModelConfig, images: torch.Tensor) -> float:
    """Free bits halfway between the two middle units' KLs on the first batch: half the units held,
    half trained, and none at the threshold, where the two steps' roundings could differ."""
    kls = first_batch_kls(config, images)
    middle = len(kls) // 2
    return (kls[middle - 1] + kls[middle]).item() / 2


SMALL = ModelConfig(latent_dim=6, hidden_dims=[32])
CASES = [(ModelConfig(), {}),
         (ModelConfig(hidden_dims=[64, 48], latent_dim=5, beta=4.0, binarize=True), {}),
         (SMALL, {"kl_weight": 0.3}),
         (SMALL, {"free_bits": "halfway"})]
CASE_IDS = ["default", "deeper-binarized-beta", "kl-warmup", "free-bits"]


def options_for(config: ModelConfig, options: dict, images: torch.Tensor) -> dict:
    if options.get("free_bits") == "halfway":
        return {**options, "free_bits": halfway_free_bits(config, images)}
    return options


@pytest.mark.parametrize("config, options", CASES, ids=CASE_IDS)
def test_its_gradient_is_autograds(mnist_test, config, options):
    """The first step's gradient of every parameter, to float32's rounding (the two sum in other orders)."""
    images = mnist_test.images[:512]
    options = options_for(config, options, images)
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
    options = options_for(config, options, images)
    written, written_means = steps_of(MLPStep, config, images, **options)
    autograd, autograd_means = steps_of(TrainStep, config, images, **options)
    torch.testing.assert_close(written_means, autograd_means, rtol=1e-5, atol=1e-4)
    for (name, a), b in zip(written.named_parameters(), autograd.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-4, msg=name)


def test_the_free_bits_case_holds_some_units_and_not_others(mnist_test):
    """What makes the free-bits case above a test of the rule: at its threshold some units' KL is
    held and some is trained."""
    images = mnist_test.images[:512]
    kls = first_batch_kls(SMALL, images)
    assert 0 < int((kls >= halfway_free_bits(SMALL, images)).sum()) < SMALL.latent_dim


def test_rgb_images_reach_the_network_in_its_layout():
    """Colour images are stored (N, H, W, 3) and read by the network as (3, H, W): the written-out
    step must flatten them as autograd's step does (a transposed layout would train, on other pixels)."""
    images = torch.randint(0, 256, (96, 8, 8, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(3))
    config = ModelConfig(dataset="folder:colour", side=8, channels=3, hidden_dims=[16], latent_dim=3)
    written, written_means = steps_of(MLPStep, config, images, steps=1)
    autograd, autograd_means = steps_of(TrainStep, config, images, steps=1)
    torch.testing.assert_close(written_means, autograd_means)
    torch.testing.assert_close(written.encoder[1].weight.grad, autograd.encoder[1].weight.grad, rtol=1e-4, atol=1e-7)


def test_bfloat16_products_train_as_autocast_does(mnist_test):
    """With bfloat16 products it casts where autocast casts. After six steps of the default, the
    weights' differences from autocast's add up to 0.5 at most (seen: 0.17), where float32's add up to
    10 and a step that skipped autocast's rounding of the weight gradients to bfloat16 to 1.1; and no
    weight is more than 2e-3 from autocast's (seen: 1.05e-3, in the first layer, where Adam turns a
    rounding of a nearly silent pixel's gradient into a step of its own size), where float32's are
    4.7e-3 away. (Training to the same quality: tests/test_precision.py.)"""
    images = mnist_test.images[:512]
    written, _ = steps_of(MLPStep, ModelConfig(), images, amp=True)
    autocast, _ = steps_of(TrainStep, ModelConfig(), images, amp=True)
    float32, _ = steps_of(MLPStep, ModelConfig(), images, amp=False)

    def apart(a, b):
        return sum((p - q).abs().sum().item() for p, q in zip(a.parameters(), b.parameters()))

    assert apart(written, autocast) < 0.5 and apart(written, float32) > 5
    for (name, a), b in zip(written.named_parameters(), autocast.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=2e-3, msg=name)
    assert max((a - b).abs().max().item() for a, b in zip(written.parameters(), float32.parameters())) > 3e-3


@pytest.mark.parametrize("params", ["another model's", "all but one"])
def test_an_optimizer_of_other_parameters_is_refused(params):
    """Its gradients would go nowhere: training would silently do nothing."""
    model = VAE(SMALL)
    other = list(VAE(SMALL).parameters()) if params == "another model's" else list(model.parameters())[:-1]
    with pytest.raises(ValueError, match="exactly the model's parameters"):
        MLPStep(model, Adam(other, 1e-3), torch.zeros(4, 28, 28, dtype=torch.uint8), torch.Generator(), amp=False)


def test_a_model_it_is_not_written_for_is_refused():
    model = VAE(ModelConfig(likelihood="gaussian"))
    with pytest.raises(ValueError, match="TrainStep"):
        MLPStep(model, make_optimizer(model, 1e-3), torch.zeros(4, 28, 28, dtype=torch.uint8), torch.Generator(),
                amp=False)


def test_training_runs_the_same_either_way(tiny_data_dir, tmp_path):
    """train() with the written-out step and with autograd's, in float32: two epochs of 600 images in
    the default's batches (each epoch's last one short), the same figures in every history line."""
    histories = {}
    for backward in ("written out", "autograd"):
        choice = mock.patch.object(mlp_step, "applies", return_value=False) if backward == "autograd" \
            else contextlib.nullcontext()
        out = tmp_path / backward
        with choice:
            histories[backward] = train(SMALL, TrainConfig(epochs=2, data_dir=str(tiny_data_dir), amp=False,
                                                           device="cpu"), out, show_progress=False)
        assert json.loads((out / TRAIN_CONFIG).read_text())["backward"] == backward
    for written, autograd in zip(histories["written out"], histories["autograd"]):
        for key in ("train_recon", "train_kl", "test_elbo", "test_kl"):
            assert written[key] == pytest.approx(autograd[key], rel=1e-5, abs=1e-3), key


@pytest.mark.parametrize("change", [
    {"arch": "conv"}, {"latent": "categorical"}, {"likelihood": "gaussian"}, {"eps": "uniform"},
    {"conditional": True}])
def test_other_models_take_the_autograd_step(change):
    assert mlp_step.applies(ModelConfig(), CPU, parallel=False)
    assert not mlp_step.applies(ModelConfig(**change), CPU, parallel=False)


def test_gpus_and_data_parallel_runs_take_the_autograd_step():
    assert not mlp_step.applies(ModelConfig(), torch.device("cuda"), parallel=False)
    assert not mlp_step.applies(ModelConfig(), CPU, parallel=True)
