"""vae/training/adam.py: torch's fused Adam step, bit for bit, without torch.optim; its state saved,
resumed, refused when it does not fit, and read from runs saved by torch.optim.Adam."""
import math

import pytest
import torch
from safetensors.torch import save as safetensors_bytes

from vae.config import ModelConfig
from vae.models.model import VAE
from vae.run_files import OPTIMIZER
from vae.training.adam import Adam
from vae.training.checkpoint import CheckpointError, load_checkpoint, load_optimizer_state, save_checkpoint

SMALL = ModelConfig(latent_dim=6, hidden_dims=[32])


def set_grads(params: list[torch.Tensor], step: int) -> None:
    """A gradient that depends on the parameters and the step, alike for equal parameters; the
    first parameter gets none on steps 2 and 3, as a layer that took no part in a batch."""
    for i, p in enumerate(params):
        p.grad = None if i == 0 and step in (2, 3) else torch.sin(p * (step + 1)) + 0.1 * p * p


def lr_at(step: int) -> float:
    return 1e-3 * (1 + math.cos(step))


def train(params: list[torch.Tensor], optimizer, steps: range) -> None:
    for i in steps:
        set_grads(params, i)
        if isinstance(optimizer, Adam):
            optimizer.set_lr(lr_at(i))
        else:
            optimizer.param_groups[0]["lr"] = lr_at(i)
        optimizer.step()


def model_params(seed: int = 0) -> list[torch.Tensor]:
    torch.manual_seed(seed)
    return list(VAE(SMALL).parameters())


def assert_same_state(ours: Adam, params: list[torch.Tensor], torch_adam: torch.optim.Adam,
                      torch_params: list[torch.Tensor]) -> None:
    for i, (p, q) in enumerate(zip(params, torch_params)):
        assert torch.equal(p, q), i
        theirs = torch_adam.state[q]
        assert ours.state[i].keys() == theirs.keys(), i
        for name, t in ours.state[i].items():
            assert t.dtype == theirs[name].dtype and torch.equal(t, theirs[name]), (i, name)


def test_a_step_is_torch_fused_adams_exactly():
    """Eight steps, the learning rate changing and one parameter without a gradient for two of them:
    every weight and moment, and each step count, bit for bit as torch.optim.Adam(fused=True)."""
    ours, theirs = model_params(), model_params()
    adam = Adam(ours, lr=1e-3)
    torch_adam = torch.optim.Adam(theirs, lr=1e-3, fused=True)
    train(ours, adam, range(8))
    train(theirs, torch_adam, range(8))
    assert_same_state(adam, ours, torch_adam, theirs)
    assert [float(s["step"]) for s in adam.state[:2]] == [6.0, 8.0]  # the first skipped two steps


def test_a_step_without_gradients_changes_nothing():
    params = model_params()
    before = [p.clone() for p in params]
    adam = Adam(params, lr=1e-3)
    adam.step()
    assert all(torch.equal(p, b) for p, b in zip(params, before)) and not any(adam.state)


def test_zero_grad_drops_the_gradients():
    params = model_params()
    set_grads(params, 0)
    Adam(params, lr=1e-3).zero_grad()
    assert all(p.grad is None for p in params)


def test_a_resume_continues_exactly(tmp_path):
    """Six steps, a checkpoint saved and loaded into a fresh model and optimizer as --resume loads
    it, three more steps: bit for bit nine steps without the break."""
    torch.manual_seed(0)
    model = VAE(SMALL)
    params = list(model.parameters())
    adam = Adam(params, lr=1e-3)
    train(params, adam, range(6))
    save_checkpoint(model, tmp_path, epoch=1, step=6, optimizer=adam)
    resumed = load_checkpoint(tmp_path).model
    resumed_adam = Adam(resumed.parameters(), lr=1e-3)
    assert load_optimizer_state(tmp_path, resumed_adam, step=6)
    train(list(resumed.parameters()), resumed_adam, range(6, 9))

    straight = model_params()
    torch_adam = torch.optim.Adam(straight, lr=1e-3, fused=True)
    train(straight, torch_adam, range(9))
    assert_same_state(resumed_adam, list(resumed.parameters()), torch_adam, straight)


def test_a_state_saved_by_torch_optim_adam_resumes(tmp_path):
    """Runs saved before this optimizer (torch.optim.Adam's state_dict, flattened as checkpoint.py
    did) resume into it, and go on exactly as torch's would."""
    torch.manual_seed(0)
    model = VAE(SMALL)
    theirs = list(model.parameters())
    torch_adam = torch.optim.Adam(theirs, lr=1e-3, fused=True)
    train(theirs, torch_adam, range(5))
    save_checkpoint(model, tmp_path, epoch=1, step=5)
    flat = {f"{i}.{name}": t.contiguous() for i, s in torch_adam.state_dict()["state"].items()
            for name, t in s.items()}
    (tmp_path / OPTIMIZER).write_bytes(safetensors_bytes(flat, metadata={"step": "5"}))

    resumed = load_checkpoint(tmp_path).model
    adam = Adam(resumed.parameters(), lr=1e-3)
    assert load_optimizer_state(tmp_path, adam, step=5)
    train(list(resumed.parameters()), adam, range(5, 8))
    train(theirs, torch_adam, range(5, 8))
    assert_same_state(adam, list(resumed.parameters()), torch_adam, theirs)


def _saved_state(tmp_path) -> tuple[VAE, dict]:
    torch.manual_seed(0)
    model = VAE(SMALL)
    adam = Adam(model.parameters(), lr=1e-3)
    train(list(model.parameters()), adam, range(2))
    return model, adam.state_tensors()


@pytest.mark.parametrize("damage", ["a moment missing", "a moment of another shape", "a parameter too many",
                                    "a step of two numbers"])
def test_a_state_that_does_not_fit_is_refused_and_changes_nothing(tmp_path, damage):
    model, tensors = _saved_state(tmp_path)
    if damage == "a moment missing":
        del tensors["1.exp_avg_sq"]
    elif damage == "a moment of another shape":
        tensors["0.exp_avg"] = tensors["0.exp_avg"][:-1]
    elif damage == "a parameter too many":
        tensors.update({f"99.{name}": tensors[f"0.{name}"].clone() for name in ("step", "exp_avg", "exp_avg_sq")})
    else:
        tensors["0.step"] = torch.zeros(2)
    save_checkpoint(model, tmp_path, epoch=1, step=2)
    (tmp_path / OPTIMIZER).write_bytes(safetensors_bytes(tensors, metadata={"step": "2"}))
    adam = Adam(model.parameters(), lr=1e-3)
    train(list(model.parameters()), adam, range(1))
    before = adam.state_tensors()
    with pytest.raises(CheckpointError, match=r"optimizer\.safetensors does not fit the model's parameters"):
        load_optimizer_state(tmp_path, adam, step=2)
    after = adam.state_tensors()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)


def test_a_step_saved_in_another_dtype_loads_as_the_kernel_takes_it(tmp_path):
    """A float32 count on the parameter's device, whatever the file held (int64 here)."""
    model, tensors = _saved_state(tmp_path)
    tensors = {k: v.long() if k.endswith(".step") else v for k, v in tensors.items()}
    save_checkpoint(model, tmp_path, epoch=1, step=2)
    (tmp_path / OPTIMIZER).write_bytes(safetensors_bytes(tensors, metadata={"step": "2"}))
    adam = Adam(model.parameters(), lr=1e-3)
    assert load_optimizer_state(tmp_path, adam, step=2)
    assert all(s["step"].dtype == torch.float32 and s["step"].shape == () and float(s["step"]) == 2 for s in adam.state)


@pytest.mark.parametrize("params, lr, message", [
    ([torch.zeros(2), torch.zeros(2, device="meta")], 1e-3, "one device and dtype"),
    ([torch.zeros(2), torch.zeros(2, dtype=torch.float64)], 1e-3, "one device and dtype"),
    ("twice", 1e-3, "listed twice"),
    ([torch.zeros(2)], -1e-3, "must not be negative"),
])
def test_what_it_cannot_step_is_refused(params, lr, message):
    if params == "twice":
        p = torch.zeros(2)
        params = [p, p]
    with pytest.raises(ValueError, match=message):
        Adam(params, lr=lr)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_a_gpu_it_is_capturable_fused_adam_eagerly_and_in_a_recorded_graph():
    """As make_optimizer made it for CUDA before (torch.optim.Adam, fused and capturable, its learning
    rate a device tensor changed in place): eight eager steps, then eight replays of a recorded step
    with the learning rate changing between them, bit for bit."""
    def cuda_params():
        return [p.detach().cuda().requires_grad_() for p in model_params()]

    ours, theirs = cuda_params(), cuda_params()
    adam = Adam(ours, lr=1e-3)
    torch_adam = torch.optim.Adam(theirs, lr=torch.tensor(1e-3, device="cuda"), fused=True, capturable=True)

    def set_lr(i):
        adam.set_lr(lr_at(i))
        torch_adam.param_groups[0]["lr"].fill_(lr_at(i))

    for i in range(8):
        set_grads(ours, i)
        set_grads(theirs, i)
        set_lr(i)
        adam.step()
        torch_adam.step()
    assert_same_state(adam, ours, torch_adam, theirs)

    graphs = []
    for optimizer in (adam, torch_adam):  # recorded, not run: each state started in the eager steps
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            optimizer.step()
        graphs.append(graph)
    for i in range(8, 16):
        set_lr(i)
        for graph in graphs:
            graph.replay()
    torch.cuda.synchronize()
    assert_same_state(adam, ours, torch_adam, theirs)
    assert [float(s["step"]) for s in adam.state[:2]] == [14.0, 16.0]
