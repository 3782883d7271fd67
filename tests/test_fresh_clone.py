"""A fresh clone (what CI and a new user get: the committed files only) starts the app without a
warning, and serves the latent pad's files from the static folder it comes with."""
import subprocess
import urllib.request
from pathlib import Path

import pytest

from bench.browser import streamlit_process

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def test_a_fresh_clone_starts_without_a_warning(tmp_path):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, timeout=120)
    assert (clone / "static").is_dir()
    log = tmp_path / "streamlit.log"
    with streamlit_process(log=log, root=clone) as (url, _, _):
        assert urllib.request.urlopen(url + "/app/static/README.md", timeout=10).status == 200
    text = log.read_text()
    assert "no static folder found" not in text and "WARNING" not in text.upper().replace("WARNINGS", ""), text
