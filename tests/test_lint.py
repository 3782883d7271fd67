"""The linters: ruff (pyproject.toml, its security rules included) is clean on the tree, and it sees
what the hand-written security audit (tests/test_security.py) leaves to it."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def ruff(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    exe = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if exe is None:
        pytest.fail("ruff is not installed: pip install -r requirements.txt")
    return subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_ruff_is_clean_on_the_tree():
    result = ruff("check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("snippet,rule", [
    ("eval(text)\n", "S307"),
    ("exec(text)\n", "S102"),
    ("import pickle\npickle.loads(data)\n", "S301"),
    ("import pandas as pd\npd.read_pickle(path)\n", "S301"),
    ("import yaml\nyaml.load(text)\n", "S506"),
    ("import subprocess\nsubprocess.run(cmd, shell=True)\n", "S602"),
    ("import os\nos.system(cmd)\n", "S605"),
])
def test_ruff_sees_what_the_security_audit_leaves_to_it(tmp_path, snippet, rule):
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    (tmp_path / "snippet.py").write_text(snippet)
    result = ruff("check", "--no-cache", "--output-format", "concise", "snippet.py", cwd=tmp_path)
    assert result.returncode == 1 and rule in result.stdout, result.stdout
