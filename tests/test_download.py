"""Downloading the training data (issue #11, the newcomer's first run), against a mirror served on
127.0.0.1 from ../shared/data (tests/mirror.py): each file checked by the md5 of its decompressed
bytes (the shared files are recompressed, as a mirror's may be), written only once it passes; a
damaged file or an unreachable mirror is one clear error that leaves nothing behind; the command
line and the Train page both download, then train."""
import gzip
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import ui.caches
from tests.app_support import open_app
from tests.mirror import SHARED_MNIST, mirror
from ui.training_status import progress_text
from vae.data import DataMissingError, load_split
from vae.datasets import dataset_info
from vae.download import MIRROR_ENV, DownloadError, download, parse_progress, print_progress
from vae.services.jobs import TrainingJobs

ROOT = Path(__file__).resolve().parents[1]
LABELS = "train-labels-idx1-ubyte"

if not SHARED_MNIST.is_dir():
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"CI=true but {SHARED_MNIST} is missing: CI runs with ../shared beside the clone")
    pytest.skip("needs ../shared/data/MNIST/raw to serve as a mirror", allow_module_level=True)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again on leaving: nothing listens there


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_a_file_is_downloaded_checked_and_kept(tmp_path, monkeypatch):
    seen = []
    with mirror(SHARED_MNIST) as (url, served):
        monkeypatch.setenv(MIRROR_ENV, url)
        folder = download("mnist", tmp_path, progress=lambda *step: seen.append(step), names=[LABELS])
    assert served == [f"{LABELS}.gz"] and folder == tmp_path / "MNIST" / "raw"
    assert files_under(tmp_path) == [f"MNIST/raw/{LABELS}.gz"]
    raw = gzip.decompress((folder / f"{LABELS}.gz").read_bytes())
    assert hashlib.md5(raw).hexdigest() == dataset_info("mnist").idx_md5[LABELS]  # noqa: S324 (the dataset's checksum)
    done = [s[2] for s in seen]
    assert done[0] == 0 and done == sorted(done)
    assert done[-1] == seen[-1][3] == (SHARED_MNIST / f"{LABELS}.gz").stat().st_size
    with mirror(SHARED_MNIST) as (url, served):  # there already: nothing is fetched again
        monkeypatch.setenv(MIRROR_ENV, url)
        download("mnist", tmp_path, names=[LABELS])
    assert served == []


def test_a_truncated_file_is_refused_and_leaves_nothing(tmp_path, monkeypatch):
    cut = tmp_path / "cut"
    cut.mkdir()
    data = (SHARED_MNIST / f"{LABELS}.gz").read_bytes()
    (cut / f"{LABELS}.gz").write_bytes(data[: len(data) // 2])
    with mirror(cut) as (url, _):
        monkeypatch.setenv(MIRROR_ENV, url)
        with pytest.raises(DownloadError, match="not a readable gzip file"):
            download("mnist", tmp_path / "data", names=[LABELS])
    assert files_under(tmp_path / "data") == []


def test_a_damaged_file_is_refused_by_its_checksum_and_leaves_nothing(tmp_path, monkeypatch):
    with mirror(SHARED_MNIST, damaged={f"{LABELS}.gz"}) as (url, _):
        monkeypatch.setenv(MIRROR_ENV, url)
        with pytest.raises(DownloadError, match="do not match the dataset's checksum") as err:
            download("mnist", tmp_path, names=[LABELS])
    assert f"{url}{LABELS}.gz" in str(err.value) and str((tmp_path / "MNIST" / "raw").resolve()) in str(err.value)
    assert files_under(tmp_path) == []  # no partial file, no temporary file


def test_an_unreachable_mirror_is_the_offline_error_at_once(tmp_path, monkeypatch):
    monkeypatch.setenv(MIRROR_ENV, f"http://127.0.0.1:{closed_port()}/")
    started = time.perf_counter()
    with pytest.raises(DataMissingError) as err:
        load_split("mnist", "train", tmp_path)
    print(f"offline error after {time.perf_counter() - started:.2f} s")
    message = str(err.value)
    assert "could not be downloaded" in message and "Connection refused" in message
    assert str((tmp_path / "MNIST" / "raw").resolve()) in message and files_under(tmp_path) == []


def test_the_offline_error_names_the_chosen_datasets_folder(no_system_datasets, tmp_path, monkeypatch):
    monkeypatch.setenv(MIRROR_ENV, f"http://127.0.0.1:{closed_port()}/")
    with pytest.raises(DataMissingError) as err:
        load_split("fashion-mnist", "train", tmp_path)
    assert str((tmp_path / "FashionMNIST" / "raw").resolve()) in str(err.value)
    assert "FashionMNIST/raw/" in str(err.value)
    assert "MNIST/raw " not in str(err.value).replace("FashionMNIST/raw", "")


def test_progress_lines_are_what_the_app_reads_back(capsys):
    for done in (0, 100_000, 262_144 * 3, 1_000_000):
        print_progress("x.gz", "http://m/x.gz", done, 1_000_000)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "downloading x.gz from http://m/x.gz: 0 of 1000000 bytes"
    assert parse_progress("\n".join(lines)) == ("x.gz", 1_000_000, 1_000_000)
    assert parse_progress("no such line") is None


def test_a_job_downloading_its_data_shows_the_progress(tmp_path):
    """A job's status reads the download's progress from its log before the run's first step."""
    log = tmp_path / ".logs" / "run.log"
    log.parent.mkdir()
    log.write_text("downloading train-images-idx3-ubyte.gz from http://m/: 3100000 of 9900000 bytes\n")
    (tmp_path / ".training.json").write_text(json.dumps({"pid": os.getpid(), "run_dir": str(tmp_path / "run"),
                                                         "log": str(log)}))
    status = TrainingJobs(tmp_path).status()
    assert status.running and status.download == ("train-images-idx3-ubyte.gz", 3_100_000, 9_900_000)
    assert progress_text(status) == "downloading the training data: train-images-idx3-ubyte.gz, 3.1 MB of 9.9 MB"
    status.download = ("train-labels-idx1-ubyte.gz", 8_000, 28_881)  # issue #20: not "0.0 of 0.0 MB"
    assert progress_text(status) == "downloading the training data: train-labels-idx1-ubyte.gz, 8 kB of 29 kB"


@pytest.mark.slow
def test_the_command_line_downloads_then_trains(tmp_path):
    with mirror(SHARED_MNIST) as (url, served):
        result = subprocess.run([sys.executable, "-m", "vae", "train", "--out", str(tmp_path / "run"), "--data-dir",
                                 str(tmp_path / "data"), "--epochs", "1", "--train-limit", "500", "--hidden", "32",
                                 "--latent-dim", "4"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                                env={**os.environ, MIRROR_ENV: url})
    assert result.returncode == 0, result.stderr
    assert sorted(served) == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]  # the test set is bundled
    assert parse_progress(result.stderr)[0] == "train-labels-idx1-ubyte.gz"
    assert (tmp_path / "run" / "model.safetensors").exists()


@pytest.mark.slow
def test_the_train_page_downloads_with_progress_then_trains(tmp_path, monkeypatch):
    root = tmp_path / "checkpoints"
    shutil.copytree(ROOT / "checkpoints" / "default", root / "default")
    jobs = TrainingJobs(root)
    monkeypatch.setattr(ui.caches, "CHECKPOINTS_DIR", root)
    monkeypatch.setattr(ui.caches, "training_jobs", lambda: jobs)
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path / "data"))  # empty: nothing downloaded yet
    with mirror(SHARED_MNIST, delay=0.01) as (url, _):
        monkeypatch.setenv(MIRROR_ENV, url)
        at = open_app("views/train.py")
        for label, value in (("Epochs", 1), ("Training images (0 = all)", 1000)):
            next(n for n in at.number_input if n.label == label).set_value(value)
        next(b for b in at.button if b.label == "Start training").click().run()
        seen, deadline = set(), time.time() + 240
        while jobs.running() and time.time() < deadline:
            if (download := jobs.status().download) is not None:
                seen.add(download[0])
            time.sleep(0.05)
    status = jobs.status()
    assert status.state == "finished", status.error
    assert seen, "the download's progress was never shown"
    assert files_under(tmp_path / "data") == ["MNIST/raw/train-images-idx3-ubyte.gz",
                                              "MNIST/raw/train-labels-idx1-ubyte.gz"]
    at.run()
    assert any(status.run_dir.name in o for o in at.sidebar.selectbox(key="checkpoint").options)


@pytest.mark.slow
def test_a_run_whose_download_fails_is_said_once_and_the_started_notice_goes(tmp_path, monkeypatch):
    """Issue #20: the failure was shown three times (the sidebar's copy on every page), below a
    green "Started" that stayed."""
    root = tmp_path / "checkpoints"
    shutil.copytree(ROOT / "checkpoints" / "default", root / "default")
    jobs = TrainingJobs(root)
    monkeypatch.setattr(ui.caches, "CHECKPOINTS_DIR", root)
    monkeypatch.setattr(ui.caches, "training_jobs", lambda: jobs)
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv(MIRROR_ENV, f"http://127.0.0.1:{closed_port()}/")
    at = open_app("views/train.py")
    next(b for b in at.button if b.label == "Start training").click().run()
    assert any(s.value.startswith("Started") for s in at.main.success)
    deadline = time.time() + 120
    while jobs.running() and time.time() < deadline:
        time.sleep(0.1)
    at.run()
    assert jobs.status().state == "failed" and not at.main.success
    reason = jobs.status().error_line
    assert "could not be downloaded" in reason
    assert [e.value for e in at.main.error if reason in e.value] and reason not in at.sidebar.error[0].value
    assert len(at.main.code) == len(at.main.expander[0].code) == 1  # the log's end, folded away
