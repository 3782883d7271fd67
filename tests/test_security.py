"""Security: nothing is ever unpickled, and user text is never rendered as HTML.

1. A static audit of the project's own source (vae/, ui/, views/, app.py, bench/): no pickle, no
   code from data, HTML only where it is built from constants; what ruff's security rules see
   (eval, exec, shells, ...) is left to them (tests/test_lint.py). The components' JavaScript
   through ESLint (eslint.config.js): text only as textContent, no code from data.
2. Behaviour: checkpoint files and map caches that are really pickles are refused, and their
   payload never runs (a marker file it would create never appears).
3. User text: checkpoint folder names holding HTML are shown as text (AppTest here; the browser
   test in test_browser_uploads.py does the same for uploaded file names and checks the DOM).
"""
from __future__ import annotations

import ast
import builtins
import gzip
import io
import pickle
import re
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

import ui.caches
import vae.services.runs
from tests.app_support import open_app
from tests.node_support import eslint, eslint_source
from vae.analysis.projection import build_map, load_cached_map
from vae.models.model import VAE
from vae.run_files import CONFIG, OPTIMIZER, WEIGHTS, map_cache_path
from vae.training.checkpoint import CheckpointError, load_checkpoint, load_optimizer_state, read_config
from vae.training.step import make_optimizer

ROOT = Path(__file__).resolve().parents[1]
AUDITED = ["vae", "ui", "views", "bench", "app.py"]

# Every place allowed to hand Streamlit raw HTML (unsafe_allow_html=True, st.html, components.html),
# as "path:function" -> why the HTML cannot hold user text. None today: every label, name and
# message goes through Streamlit's text and markdown elements, which escape HTML.
HTML_ALLOWED: dict[str, str] = {}

FORBIDDEN_MODULES = {"pickle", "_pickle", "cPickle", "cloudpickle", "dill", "joblib", "shelve", "marshal",
                     "jsonpickle", "torch.package"}
# What ruff's security rules (pyproject.toml; tests/test_lint.py) cannot see. They see eval (S307),
# exec (S102), pickle.load and pandas.read_pickle (S301), yaml.load (S506) and shells (S602, S605).
FORBIDDEN_CALLS = {
    "compile": "compiles text to code", "__import__": "imports by name from data",
    "torch.jit.load": "TorchScript archives carry code",
    "numpy.load": None, "torch.load": None,  # None: checked below
}
HTML_CALLS = {"streamlit.html", "streamlit.components.v1.html", "streamlit.components.v1.iframe"}


def python_files() -> list[Path]:
    files = []
    for name in AUDITED:
        path = ROOT / name
        files += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return files


def _aliases(tree: ast.Module) -> dict[str, str]:
    """Local name -> the dotted name it was imported as (`np` -> numpy, `load` -> torch.load)."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                names[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                names[a.asname or a.name] = f"{node.module}.{a.name}"
    return names


def _dotted(node: ast.AST, aliases: dict[str, str]) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return ""
    parts.append(aliases.get(node.id, node.id))
    dotted = ".".join(reversed(parts))
    return dotted.replace("np.", "numpy.", 1) if dotted.startswith("np.") else dotted


def _keyword(call: ast.Call, name: str, splat_counts: bool = True):
    """The keyword argument's constant value; `...` when absent, a "<...>" string when not a constant
    (or, with `splat_counts`, when a **kwargs could carry it)."""
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value.value if isinstance(kw.value, ast.Constant) else "<not a constant>"
    if splat_counts and any(kw.arg is None for kw in call.keywords):
        return "<**kwargs>"
    return ...


def _functions(tree: ast.Module) -> dict[ast.AST, str]:
    """Each node -> the name of the function (or "<module>") it sits in."""
    where = {}

    def visit(node, name):
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else name
            where[child] = inner
            visit(child, inner)

    visit(tree, "<module>")
    return where


def audit_source(source: str, label: str) -> list[str]:
    """Every unsafe construct in one Python source, as "label:line: what"."""
    tree = ast.parse(source)
    aliases = _aliases(tree)
    where = _functions(tree)
    found = []

    def bad(node, what):
        found.append(f"{label}:{node.lineno}: {what}")

    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for module in modules:
                if module in FORBIDDEN_MODULES or module.split(".")[0] in FORBIDDEN_MODULES:
                    bad(node, f"imports {module}")
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func, aliases)
        if name in FORBIDDEN_CALLS and FORBIDDEN_CALLS[name]:
            bad(node, f"calls {name}: {FORBIDDEN_CALLS[name]}")
        if name == "numpy.load" and _keyword(node, "allow_pickle") not in (..., False):
            bad(node, "numpy.load without allow_pickle=False")
        if name == "torch.load" and _keyword(node, "weights_only") is not True:
            bad(node, "torch.load without weights_only=True")
        html = _keyword(node, "unsafe_allow_html", splat_counts=False) not in (..., False) or name in HTML_CALLS \
            or name.endswith(".html") and name.startswith(("st.", "streamlit.", "components."))
        if html and f"{label}:{where.get(node, '<module>')}" not in HTML_ALLOWED:
            bad(node, f"raw HTML ({name or 'call'}) outside HTML_ALLOWED")
    return found


def test_the_project_never_unpickles_runs_data_or_renders_raw_html():
    files = python_files()
    assert len(files) > 20 and any(f.name == "app.py" for f in files)
    found = [hit for f in files for hit in audit_source(f.read_text(), str(f.relative_to(ROOT)))]
    assert not found, "\n".join(found)


def test_each_allowed_html_use_is_justified_and_still_exists():
    """HTML_ALLOWED names real places with reasons; while it is empty, the audit above refuses every
    raw-HTML call (tested on a snippet in test_the_audit_catches_what_it_looks_for)."""
    assert isinstance(HTML_ALLOWED, dict)
    for place, why in HTML_ALLOWED.items():
        path, function = place.split(":")
        assert len(why) > 20, f"{place}: say why the HTML cannot hold user text"
        assert f"def {function}(" in (ROOT / path).read_text() or function == "<module>", place
    if not HTML_ALLOWED:
        assert audit_source("import streamlit as st\nst.html('<b>x</b>')\n", "x.py"), "an empty list must refuse all"


BAD_SNIPPETS = {
    "import pickle\n": "imports pickle",
    "from joblib import load\n": "imports joblib",
    "import dill as d\n": "imports dill",
    "import torch\ntorch.load('m.pt')\n": "torch.load without weights_only=True",
    "from torch import load\nload('m.pt', weights_only=False)\n": "torch.load without weights_only=True",
    "import numpy as np\nnp.load('a.npz', allow_pickle=True)\n": "numpy.load without allow_pickle=False",
    "import numpy\nnumpy.load('a.npz', **opts)\n": "numpy.load without allow_pickle=False",
    "compile(text, 'x', 'exec')\n": "calls compile",
    "import torch\ntorch.jit.load('m.pt')\n": "calls torch.jit.load",
    "import streamlit as st\nst.markdown(name, unsafe_allow_html=True)\n": "raw HTML",
    "import streamlit as st\nst.html(name)\n": "raw HTML",
    "import streamlit.components.v1 as components\ncomponents.html(name)\n": "raw HTML",
}


@pytest.mark.parametrize("snippet", list(BAD_SNIPPETS))
def test_the_audit_catches_what_it_looks_for(snippet):
    found = audit_source(snippet, "snippet.py")
    assert any(BAD_SNIPPETS[snippet] in hit for hit in found), (snippet, found)


def test_the_audit_passes_the_safe_forms():
    safe = ("import numpy as np\nimport torch\nnp.load('a.npz', allow_pickle=False)\nnp.load('a.npz')\n"
            "torch.load('m.pt', weights_only=True)\nmodel.eval()\nst.markdown('**bold**')\n")
    assert audit_source(safe, "safe.py") == []


# --- the latent pad's JavaScript ---------------------------------------------------------------

# What the components must never do with text from data, each as ESLint sees it (eslint.config.js):
# parsed, where a pattern over the source would be fooled by comments and strings.
JS_SINKS = [
    "export function f(e, t) { e.innerHTML = t; }", "export function f(e, t) { e.outerHTML = t; }",
    "export function f(e, t) { e.insertAdjacentHTML('beforeend', t); }", "export function f(t) { document.write(t); }",
    "export function f(t) { return eval(t); }", "export function f(t) { return new Function(t); }",
    "export function f() { setTimeout('run()', 1); }", "export function f(e, t) { e.srcdoc = t; }",
    "export function f(t) { return new DOMParser().parseFromString(t, 'text/html'); }",
    "export function f(r, t) { return r.createContextualFragment(t); }",
    "export function f(e, t) { e.setAttribute('onclick', t); }",
]


def test_the_components_set_text_never_html():
    result = eslint("ui/components")
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("snippet", JS_SINKS)
def test_the_component_audit_catches_each_html_and_code_sink(snippet):
    assert eslint_source(snippet).returncode == 1, snippet


COMPONENT_MODULES = sorted(p.name for p in (ROOT / "ui").glob("*.py") if "components.v2.component(" in p.read_text())


def test_every_component_module_is_checked():
    assert {"latent_pad.py", "map_chart.py", "uploads.py", "sketchpad.py", "browser_fixes.py"} <= set(
        COMPONENT_MODULES)


@pytest.mark.parametrize("module", COMPONENT_MODULES)
def test_component_code_is_constant_files_and_data_goes_in_as_data(module):
    """A component's JS and CSS are the files as they are (ui.components.source reads them, nothing
    else); what the app knows travels in `data` (JSON), never formatted into code."""
    tree = ast.parse((ROOT / "ui" / module).read_text())
    component = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "component"]
    assert len(component) >= 1
    for kw in (kw for c in component for kw in c.keywords):
        if kw.arg in ("js", "css", "html"):
            source = kw.value
            assert isinstance(source, ast.Call) and getattr(source.func, "id", "") == "source", ast.unparse(source)
            assert all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in kw.value.args)
            for name in (a.value for a in kw.value.args):
                assert (ROOT / "ui" / "components" / name).is_file(), name
    handles = [n.targets[0].id for n in ast.walk(tree) if isinstance(n, ast.Assign) and n.value in component]
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") in handles]
    # What the app knows goes in as `data` (JSON); nothing else a call passes can carry it.
    def allowed(name: str) -> bool:
        return name in ("key", "data", "default") or (name.startswith("on_") and name.endswith("_change"))

    assert calls and all(allowed(kw.arg) for c in calls for kw in c.keywords), [ast.unparse(c) for c in calls]


def test_component_sources_are_read_from_files_only():
    """ui.components.source joins the files' text (a .wasm file's bytes as a base64 string) and does
    nothing else."""
    tree = ast.parse((ROOT / "ui" / "components" / "__init__.py").read_text())
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert set(functions) == {"_text", "source"}
    assert ast.unparse(functions["source"].body[-1]) == "return '\\n'.join((_text(name) for name in names))"
    assert ast.unparse(functions["_text"].body[-1]) == "return (HERE / name).read_text()"


# --- pickles posing as checkpoints and caches --------------------------------------------------

class Payload:
    """Unpickling this creates `marker` (a harmless stand-in for any code an attacker would run)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return builtins.open, (str(self.marker), "w")


@pytest.fixture
def marker(tmp_path):
    path = tmp_path / "PWNED"
    yield path
    assert not path.exists(), "a pickle payload ran"


def test_the_payload_is_live(tmp_path):
    """The control: what unpickling the payload would call does create its marker, so its absence
    below means something. (Called directly: this suite unpickles nothing.)"""
    control = tmp_path / "control"
    call, args = Payload(control).__reduce__()
    call(*args).close()
    assert control.exists()


def _checkpoint_folder(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    shutil.copy(ROOT / "checkpoints" / "default" / CONFIG, folder / CONFIG)
    return folder


def _torch_zip(obj) -> bytes:
    """What torch.save writes: a zip whose data.pkl is a pickle."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


@pytest.mark.parametrize("kind", ["raw pickle", "torch.save zip"])
def test_a_pickle_posing_as_the_weights_is_refused(tmp_path, marker, kind):
    folder = _checkpoint_folder(tmp_path, "evil")
    payload = Payload(marker)
    (folder / WEIGHTS).write_bytes(pickle.dumps(payload) if kind == "raw pickle" else _torch_zip(payload))
    with pytest.raises(CheckpointError, match=r"model\.safetensors is corrupt"):
        load_checkpoint(folder)


def test_a_model_pt_beside_the_config_is_never_read(tmp_path, marker):
    folder = _checkpoint_folder(tmp_path, "pt-only")
    (folder / "model.pt").write_bytes(_torch_zip(Payload(marker)))
    (folder / "model.pkl").write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(CheckpointError, match=r"model\.safetensors is missing"):
        load_checkpoint(folder)
    with pytest.raises(Exception, match="Weights only load failed|Unsupported global"):
        torch.load(folder / "model.pt", weights_only=True)  # the only torch.load the rules allow refuses it too


@pytest.fixture
def evil_checkpoint(tmp_path, marker, monkeypatch):
    """A checkpoints folder with the bundled model and "evil", whose weights file is a pickle."""
    root = tmp_path / "checkpoints"
    shutil.copytree(ROOT / "checkpoints" / "default", root / "default")
    folder = _checkpoint_folder(root, "evil")
    (folder / WEIGHTS).write_bytes(pickle.dumps(Payload(marker)))
    monkeypatch.setattr(ui.caches, "CHECKPOINTS_DIR", root)
    return folder


def test_a_pickled_checkpoint_is_listed_as_broken_and_never_run(evil_checkpoint, marker):
    at = open_app()
    assert "evil" not in at.sidebar.selectbox(key="checkpoint").options
    broken = [t.value for t in at.sidebar.text]
    assert any(line.startswith("evil: model.safetensors is corrupt") for line in broken), broken
    assert not at.exception, [e.value for e in at.exception]
    assert not marker.exists()


def test_weights_that_break_after_listing_stop_the_page_with_a_message(evil_checkpoint, marker, monkeypatch):
    """The weights replaced by a pickle between the listing and the load: the sidebar and the page
    say why, the page stops cleanly, and the pickle is never run."""
    monkeypatch.setattr(vae.services.runs, "check_weights_file", lambda folder, config=None: None)
    at = open_app("views/reconstruct.py")
    at.sidebar.selectbox(key="checkpoint").set_value("evil").run()
    sidebar_errors = [e.value for e in at.sidebar.error]
    assert any("Cannot load this checkpoint" in e and "model.safetensors is corrupt" in e for e in sidebar_errors)
    assert any("Pick another checkpoint" in e.value for e in at.main.error)
    assert not at.exception, [e.value for e in at.exception]
    assert not marker.exists()


def test_a_pickled_optimizer_state_is_refused(tmp_path, marker):
    folder = _checkpoint_folder(tmp_path, "resume")
    (folder / OPTIMIZER).write_bytes(_torch_zip({"state": Payload(marker)}))
    model = VAE(read_config(folder))
    optimizer = make_optimizer(model, 1e-3)
    with pytest.raises(CheckpointError, match=r"optimizer\.safetensors is corrupt"):
        load_optimizer_state(folder, optimizer)


def _pickled_npz(path: Path, marker: Path) -> None:
    """A map cache whose arrays are object arrays: np.savez pickles them."""
    evil = np.empty(1, dtype=object)
    evil[0] = Payload(marker)
    with open(path, "wb") as f:
        np.savez(f, mu=evil, labels=evil, xy=evil)


def test_a_pickled_map_cache_is_never_unpickled(tmp_path, marker):
    path = map_cache_path(tmp_path, "0" * 64, "mnist-test")
    _pickled_npz(path, marker)
    assert load_cached_map(path) is None  # treated as damaged: rebuilt, never executed
    control = tmp_path / "control"
    _pickled_npz(tmp_path / "control.npz", control)
    with np.load(tmp_path / "control.npz", allow_pickle=True) as f:
        f["mu"]
    assert control.exists()  # the same file would have run its payload with allow_pickle=True


def test_a_pickled_map_cache_is_replaced_by_a_fresh_map(tmp_path, marker, monkeypatch):
    import vae.analysis.projection

    monkeypatch.setattr(vae.analysis.projection, "project_umap", lambda mu: mu[:, :2].copy())  # skip UMAP's seconds
    model = VAE(read_config(ROOT / "checkpoints" / "default"))
    images, labels = torch.zeros(20, 28, 28, dtype=torch.uint8), torch.arange(20) % 10
    path = map_cache_path(tmp_path, "1" * 64, "mnist-test")
    _pickled_npz(path, marker)
    fresh = build_map(model, "1" * 64, images, labels, tmp_path, "mnist-test")
    assert fresh.xy.shape == (20, 2)
    with np.load(path, allow_pickle=False) as f:
        assert f["mu"].dtype == np.float16  # plain arrays, as build_map writes them


def test_the_shipped_files_hold_no_pickles():
    """What the repository ships (the bundled model, its map, the browser's decoders and images)
    is safetensors, JSON, JSON lines, plain .npz arrays, gzipped raw pixels and one font."""
    files = [p for folder in ("checkpoints", "static") for p in sorted((ROOT / folder).rglob("*")) if p.is_file()]
    assert any(p.suffix == ".npz" for p in files) and any(p.name == WEIGHTS for p in files)
    for path in files:
        assert path.suffix in (".safetensors", ".json", ".jsonl", ".npz", ".md", ".txt", ".gz", ".woff2"), path
        if path.suffix == ".woff2":  # the article's terms (static/README.md): a WOFF2 font and nothing else
            assert path.read_bytes()[:4] == b"wOF2", path
        if path.suffix == ".gz":  # the map's images: N x side x side x channels bytes, nothing else
            size = len(gzip.decompress(path.read_bytes()))
            assert path.name.endswith(".u8.gz") and any(size % (side * side * channels) == 0 for side in (28, 32, 64)
                                                        for channels in (1, 3)), path
        if path.suffix in (".json", ".jsonl", ".md", ".txt"):
            path.read_text(encoding="utf-8")  # text, not a binary in disguise
        if path.suffix == ".npz":
            with zipfile.ZipFile(path) as z:
                assert all(name.endswith(".npy") for name in z.namelist()), path
            with np.load(path, allow_pickle=False) as f:
                for key in f.files:
                    assert f[key].dtype != object, (path, key)  # object arrays would not load at all


# --- user text in the app ----------------------------------------------------------------------

HOSTILE_OK = "<img src=x onerror=alert(1)>"
HOSTILE_BROKEN = "<b onmouseover=alert(2)>bold<b>"


@pytest.fixture
def hostile_checkpoints(tmp_path, monkeypatch):
    root = tmp_path / "checkpoints"
    shutil.copytree(ROOT / "checkpoints" / "default", root / "default")
    shutil.copytree(ROOT / "checkpoints" / "default", root / HOSTILE_OK)
    (root / HOSTILE_BROKEN).mkdir()
    (root / HOSTILE_BROKEN / CONFIG).write_text("{nope")
    monkeypatch.setattr(ui.caches, "CHECKPOINTS_DIR", root)
    return root


def _markdown_bodies(at) -> list[str]:
    """Everything the app rendered through markdown (which Streamlit parses), code spans left out:
    their text is shown as it is (ui.caches.literal puts user text in them)."""
    kinds = ["markdown", "caption", "title", "header", "subheader", "error", "warning", "info", "success"]
    return [_without_code_spans(element.value) for kind in kinds for element in at.get(kind)]


def _without_code_spans(markdown: str) -> str:
    return re.sub(r"(`+)(?!`).*?(?<!`)\1(?!`)", "", markdown, flags=re.S)


@pytest.mark.parametrize("text", ["plain", "a `tick`", "``double``", "<img src=x onerror=alert(1)>", "`", "![x](http://e/x.png)"])
def test_literal_is_one_code_span_holding_the_text(text):
    from ui.text import literal

    span = literal(text)
    assert _without_code_spans(span) == ""
    fence = re.match(r"`+", span).group(0)
    assert span.startswith(fence) and span.endswith(fence) and text in span and fence not in text


def test_checkpoint_names_with_html_are_shown_as_plain_text(hostile_checkpoints):
    at = open_app("views/reconstruct.py")
    picker = at.sidebar.selectbox(key="checkpoint")
    assert HOSTILE_OK in picker.options, picker.options  # the name as it is (the picker lists names only)
    assert any(t.value.startswith(HOSTILE_BROKEN + ": ") for t in at.sidebar.text)  # st.text: preformatted text
    bodies = _markdown_bodies(at)
    assert "Reconstruct" in bodies and not [b for b in bodies if "<img" in b or "<b " in b]
    picker.set_value(HOSTILE_OK).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.sidebar.selectbox(key="checkpoint").value == HOSTILE_OK
    assert not [body for body in _markdown_bodies(at) if "<img" in body or "<b " in body]
