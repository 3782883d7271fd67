"""The architecture's seams, checked on the source: the rest of the project asks a latent what it
can do instead of naming its kind, and no module imports one that imports it back."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted(p for folder in ("vae", "ui", "views", "bench") for p in (ROOT / folder).rglob("*.py")) \
    + [ROOT / "app.py"]
KIND_NAMES = {"gaussian", "categorical"}
# Where a latent kind is named: its classes (vae/models/latents.py) and the config that chooses one. The
# browser's controls (ui/components/*.js) name them too.
NAMING_KINDS = {"vae/config.py"}


def _names_a_kind(tree: ast.AST) -> list[int]:
    """Lines that compare something's latent (or its kind) with a kind's name, or name "categorical"."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and node.value == "categorical":
            lines.append(node.lineno)
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            kinds = any(isinstance(o, ast.Constant) and o.value in KIND_NAMES for o in operands)
            latent = any(isinstance(o, ast.Attribute) and o.attr in ("latent", "kind") for o in operands)
            if kinds and latent:
                lines.append(node.lineno)
    return lines


def test_only_the_latents_and_the_config_name_a_latent_kind():
    naming = {}
    for path in SOURCES:
        name = path.relative_to(ROOT).as_posix()
        if name.startswith(("vae/models/latents", "vae/models/latent_kinds")):
            continue
        lines = _names_a_kind(ast.parse(path.read_text(), name))
        if lines:
            naming[name] = lines
    assert set(naming) == NAMING_KINDS, naming


@pytest.mark.parametrize("snippet", ['if model.latent.kind == "categorical": pass',
                                     'x = cfg.latent != "gaussian"', 'KINDS = ("categorical",)'])
def test_the_check_sees_a_kind_named(snippet):
    assert _names_a_kind(ast.parse(snippet))


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in SOURCES if not p.is_relative_to(ROOT / "bench")}


def _imports(name: str, path: Path) -> dict[str, list[str]]:
    """The project's modules `name` imports anywhere in it (at the top or inside a function), each
    with the names it takes from it."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = {}
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                base = ".".join(parent + ([node.module] if node.module else []))
            for alias in node.names:
                target = f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                if target in MODULES and target != name:
                    found.setdefault(target, []).append(alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in MODULES and alias.name != name:
                    found.setdefault(alias.name, [])
    return found


IMPORTS = {name: _imports(name, path) for name, path in MODULES.items()}


def test_no_module_imports_one_that_imports_it_back():
    def reachable(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in IMPORTS.get(todo.pop(), {}):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    assert [name for name in MODULES if name in reachable(name)] == []


def test_no_module_takes_another_ones_private_names():
    private = {(name, target, taken) for name, imports in IMPORTS.items() for target, names in imports.items()
               for taken in names if taken.startswith("_") and not taken.startswith("__")}
    assert private == set()


def test_the_import_checks_see_the_project():
    assert "vae.data" in IMPORTS["vae.training.train"] and "ui.caches" in IMPORTS["app"]
    assert IMPORTS["ui.sketchpad"]["ui.latent_pad"] == ["exported_decoder", "exported_map"]


# vae/'s layers, lowest first: a module imports from its own layer and those below, never above.
LAYERS = [
    ("vae", "vae.config", "vae.datasets", "vae.files", "vae.run_files", "vae.data", "vae.download", "vae.images",
     "vae.options", "vae.sprites", "vae.image_folder"),
    ("vae.models",),
    ("vae.training",),
    ("vae.analysis",),
    ("vae.services",),
    ("vae.cli", "vae.__main__"),
    ("ui",),
    ("views", "app"),
]


def _layer(module: str) -> int:
    for rank, prefixes in enumerate(LAYERS):
        if any(module == p or (p != "vae" and module.startswith(p + ".")) for p in prefixes):
            return rank
    raise AssertionError(f"{module} is in no layer of LAYERS")


def test_each_layer_imports_only_from_its_own_and_those_below():
    upward = {(name, target) for name, imports in IMPORTS.items() for target in imports
              if _layer(target) > _layer(name)}
    assert upward == set()


def test_the_layer_check_sees_every_module_and_knows_the_order():
    assert _layer("vae.training.train") > _layer("vae.models.model") > _layer("vae.config")
    assert {_layer(name) for name in MODULES} == set(range(len(LAYERS)))


FIRST_PAGE_LEAVES = ("sklearn", "scipy.spatial", "umap", "numba")  # imported where they are used, later
IMPORT_PROBE = """
import importlib, sys
for name in sys.argv[2:]:
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name != name:  # a missing module, not a name of one (`from ui.caches import current_model`)
            raise
print(" ".join(m for m in sys.argv[1].split(",") if m in sys.modules))
"""


def test_the_first_pages_modules_leave_the_heavy_analysis_libraries_for_later():
    """The modules app.py and the latent map (the default page) import bring none of these in: the
    map's chart is sent before any of them is needed (issue #27's cold start, BENCHMARKS.md)."""
    imported = set()  # `import a.b`; `from a import b`: a, and a.b where b is a module
    for script in ("app.py", "views/map.py"):
        for node in ast.walk(ast.parse((ROOT / script).read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
    done = subprocess.run([sys.executable, "-c", IMPORT_PROBE, ",".join(FIRST_PAGE_LEAVES), *sorted(imported)],
                          cwd=ROOT, capture_output=True, text=True, check=True)
    assert {"ui.state", "ui.map_chart", "torch"} <= imported and done.stdout.strip() == ""


FIRST_RUN_PROBE = """
import sys
from streamlit.testing.v1 import AppTest
import ui.caches
ui.caches.warm_up = lambda *args: None  # what the page's run imports, not the model built after it
at = AppTest.from_file("app.py", default_timeout=120)
at.run()
assert not at.exception, [e.value for e in at.exception]
print(" ".join(m for m in sys.argv[1:] if m in sys.modules))
"""
# What a server's first page leaves unimported: pandas and pyarrow (0.3 s; Streamlit imports them to
# check a component's data for dataframes unless the data is one string, ui/component_data.py), torch
# (1.3 s: the checkpoint is read from its files, the map from its cache, the browser's decoder from its
# file) and scipy.spatial (0.2 s: the map's gap is computed with numpy).
FIRST_RUN_LEAVES = ("pandas", "pyarrow", "torch", "scipy.spatial", "sklearn", "umap")


def test_the_first_pages_whole_first_run_leaves_pandas_and_torch_out():
    """Running, not only importing, in a fresh interpreter: the second server of a clone (the first
    writes the browser's copy of the decoder, with torch, once per checkpoint). The model is built
    after the run, in the background (ui.caches.warm_up; tests/test_app.py)."""
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", FIRST_RUN_PROBE, *FIRST_RUN_LEAVES], cwd=ROOT,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "", done.stdout


def _bare_expressions(tree: ast.AST) -> list[int]:
    """Lines of statements that Streamlit's magic would display: an expression that is not a call (nor
    await or yield), and not the docstring of a module, class or function."""
    documented = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    lines = []
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            block = getattr(node, field, None)
            for index, statement in enumerate(block if isinstance(block, list) else []):
                value = getattr(statement, "value", None)
                if not isinstance(statement, ast.Expr) or isinstance(value, (ast.Call, ast.Await, ast.Yield,
                                                                               ast.YieldFrom)):
                    continue
                docstring = (field == "body" and index == 0 and isinstance(node, documented)
                             and isinstance(value, ast.Constant) and isinstance(value.value, str))
                if not docstring:
                    lines.append(statement.lineno)
    return sorted(lines)


def test_no_page_leans_on_magic_which_the_config_turns_off():
    """.streamlit/config.toml turns magic off (a page's script is compiled as written), so a bare
    expression in a page would show nothing: write st.write(...)."""
    config = (ROOT / ".streamlit" / "config.toml").read_text()
    assert "magicEnabled = false" in config
    pages = [ROOT / "app.py", *sorted((ROOT / "views").glob("*.py"))]
    found = {str(p.relative_to(ROOT)): lines for p in pages if (lines := _bare_expressions(ast.parse(p.read_text())))}
    assert found == {}


@pytest.mark.parametrize("snippet, lines", [("x = 1\nx\n", [2]), ('"""doc"""\nst.write(1)\n"shown"\n', [3]),
                                            ("def f():\n    '''doc'''\n    a + 1\n", [3]), ("f(x)\n", []),
                                            ("if a:\n    'shown'\nelse:\n    b\n", [2, 4])])
def test_the_magic_check_sees_a_bare_expression(snippet, lines):
    assert _bare_expressions(ast.parse(snippet)) == lines
