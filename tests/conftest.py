"""Shared fixtures: a tiny offline MNIST folder made from the bundled test set, and small models."""
from __future__ import annotations

import dataclasses
import os

import pytest
import torch

from vae.data import load_split, write_idx
from vae.datasets import REGISTRY

# The browser fixtures (server, browser, page, screens, on_screen, tab), for the tests that ask for them.
pytest_plugins = ["tests.browser_support"]

# pytest.ini runs the suite on two pytest-xdist workers. The tests that start processes and wait on
# them run in two lanes, each one test at a time on one worker: those that drive Chromium against a
# Streamlit server (most browser benchmarks too), and those that run training jobs, torchrun, the
# CLI or the other benchmarks (and the linters: ESLint's probe file sits among the components for a
# moment). So no two training jobs share the cores, and no two servers but one of the three
# benchmarks below beside the browser lane's. The in-process tests, one thread each, go to whichever
# worker ends its lane first.
#
# The browser lane is the suite's longest unit, so it sets the suite's time: 792 s of tests against
# 354 s for the process lane and 344 s in process (2026-12-06, before this split). Three browser
# benchmarks, each with a server and a Chromium of its own, run in the process lane instead, where
# the other worker had the room; the training-contention benchmark's job is a training job too.
# Chromium is most of the suite's CPU (629 of some 1,300 CPU-seconds, 2026-12-06), and a fresh page
# costs twice the CPU of a kept one navigated (browser_support.screens): hence the kept pages.
BROWSER_LANE = {"test_many_sessions"}  # besides the test_browser* modules that drive Chromium
BENCHMARKS_IN_THE_PROCESS_LANE = ("training_contention", "cold_start", "map_canvas")
IN_PROCESS = {"test_browser_functions"}  # the components' functions in Node: no browser, no server
PROCESS_LANE = {"test_bench", "test_cli", "test_diverged_training", "test_distributed", "test_download",
                "test_failed_training", "test_fresh_clone", "test_jobs", "test_killed_training", "test_lint",
                "test_security"}
if "PYTEST_XDIST_WORKER" in os.environ:
    torch.set_num_threads(1)


def lane(nodeid: str) -> str | None:
    """The lane of a test (by its node id), or None for an in-process test."""
    module = nodeid.split("::")[0].rpartition("/")[2].removesuffix(".py")
    if module in IN_PROCESS:
        return None
    if module == "test_bench" and any(nodeid.endswith(f"[{name}]") for name in BENCHMARKS_IN_THE_PROCESS_LANE):
        return "processes"
    if module.startswith("test_browser") or module in BROWSER_LANE or "::test_browser_" in nodeid:
        return "browser"
    return "processes" if module in PROCESS_LANE else None


def pytest_xdist_make_scheduler(config, log):
    """Each lane's tests as one unit of work, every other test a unit of its own (xdist's own
    xdist_group marks are lost under pytest 9)."""
    from xdist.scheduler import LoadScopeScheduling

    class Lanes(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return lane(nodeid) or nodeid

    return Lanes(config, log)


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

