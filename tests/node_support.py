"""Running the browser components' pure functions in Node (Debian's `nodejs`), where no page is
needed: the files joined as a component gets them (ui.components.source), then a test's script.
And ESLint (npm ci) on the components' source.

    require_node()
    node_run(["nets.js", "prepare.js"], "return Array.from(prepare(...input...))", payload)

Under CI (CI=true) Node must be there (.ci/run installs it); elsewhere these tests are skipped
without it.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from ui.components import source

NODE = shutil.which("node") or shutil.which("nodejs")
ROOT = Path(__file__).resolve().parent.parent
ESLINT = ROOT / "node_modules" / ".bin" / "eslint"
PROLOGUE = 'import { readFileSync } from "node:fs";\nglobalThis.window = globalThis;  // shared.js asks window\n'


def require_node() -> None:
    if NODE is None:
        if os.environ.get("CI"):
            pytest.fail("Node is needed for the browser functions' tests (apt-get install nodejs)", pytrace=False)
        pytest.skip("Node is not installed (apt-get install nodejs)", allow_module_level=True)


def eslint(*paths: str) -> subprocess.CompletedProcess:
    """ESLint (eslint.config.js) on `paths`; skipped without it locally, required under CI."""
    if not ESLINT.exists():
        if os.environ.get("CI"):
            pytest.fail("ESLint is needed here: npm ci, with Debian's nodejs and npm", pytrace=False)
        pytest.skip("ESLint is not installed (npm ci)")
    return subprocess.run([str(ESLINT), *paths], cwd=ROOT, capture_output=True, text=True, timeout=120)


def eslint_source(source: str) -> subprocess.CompletedProcess:
    """ESLint on one piece of component code, as a file among the components (so their rules apply)."""
    probe = ROOT / "ui" / "components" / "_lint_probe.js"
    probe.write_text(source)
    try:
        return eslint(str(probe))
    finally:
        probe.unlink()


def node_run(files: list[str], script: str, payload: Any = None, timeout: float = 120) -> Any:
    """The JSON value `script` returns (the body of an async function of `input`, the payload), run
    after the components' `files` in one ES module."""
    module = (PROLOGUE + source(*files) + "\nconst input = JSON.parse(readFileSync(0, 'utf8'));\n"
              + "const output = await (async () => {\n" + script + "\n})();\n"
              + "process.stdout.write(JSON.stringify(output));\n")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "run.mjs"
        path.write_text(module)
        result = subprocess.run([NODE, str(path)], input=json.dumps(payload), capture_output=True, text=True,
                                timeout=timeout)
    if result.returncode:
        raise AssertionError(f"node failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout)
