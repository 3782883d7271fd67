"""The linters and built files: ruff (pyproject.toml, its security rules included) is clean on the
tree and sees what the hand-written security audit (tests/test_security.py) leaves to it; ESLint
(eslint.config.js) is clean on the browser components; kernels.wasm is what kernels.c compiles to."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.node_support import eslint, eslint_source

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


def _needed(what: str, how: str) -> None:
    """Fail under CI (which installs it), skip elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} is needed here: {how}", pytrace=False)
    pytest.skip(f"{what} is not installed ({how})")


def test_eslint_is_clean_on_the_components():
    result = eslint("ui/components")
    assert result.returncode == 0, result.stdout + result.stderr


def test_eslint_sees_a_long_handler_and_an_undeclared_name():
    """The configuration bites: a handler longer than a screen, and a name the file never declares."""
    result = eslint_source("export function long() {\n" + "  undeclared();\n" * 61 + "}\n")
    assert result.returncode == 1
    assert "max-lines-per-function" in result.stdout and "no-undef" in result.stdout, result.stdout


def test_kernels_wasm_is_built_from_kernels_c():
    """The committed WebAssembly is what kernels.c compiles to, byte for byte, with the compiler
    build_kernels.py names."""
    from ui.components.build_kernels import BUILT_WITH, HERE, build, compiler, compiler_version

    if compiler() is None:
        _needed("clang with wasm-ld", "apt-get install clang lld")
    assert compiler_version() == BUILT_WITH, "another compiler: rebuild, check, and record its version"
    assert build() == (HERE / "kernels.wasm").read_bytes(), \
        "kernels.wasm is out of date: python -m ui.components.build_kernels"
