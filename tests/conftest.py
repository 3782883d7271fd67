"""Shared fixtures: a tiny offline MNIST folder made from the bundled test set, and small models."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from vae.data import load_split, write_idx
from vae.datasets import REGISTRY

# The browser fixtures (server, browser, page), for the tests that ask for them.
pytest_plugins = ["tests.browser_support"]


@pytest.fixture
def no_system_datasets(monkeypatch):
    """The datasets as on a machine without an operating system's copies (Debian's Fashion-MNIST)."""
    for name, info in list(REGISTRY.items()):
        monkeypatch.setitem(REGISTRY, name, dataclasses.replace(info, system_folders=()))


@pytest.fixture(scope="session")
def mnist_test():
    return load_split("mnist", "test")


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory, mnist_test):
    """<root>/MNIST/raw/ with 600 'training' and 200 test images, taken from the bundled test set."""
    root = tmp_path_factory.mktemp("data")
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images, labels = mnist_test.images.numpy(), mnist_test.labels.numpy()
    write_idx(raw / "train-images-idx3-ubyte", images[:600], gz=True)
    write_idx(raw / "train-labels-idx1-ubyte", labels[:600], gz=True)
    write_idx(raw / "t10k-images-idx3-ubyte", images[600:800])
    write_idx(raw / "t10k-labels-idx1-ubyte", labels[600:800])
    return root


@pytest.fixture
def batch(mnist_test):
    return mnist_test.images[:16].unsqueeze(1).float() / 255.0  # (16, 1, 28, 28)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Record each phase's report on the test item, so fixtures can screenshot failures."""
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)
