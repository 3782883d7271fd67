"""The browser components' files (JavaScript and CSS), read as they are; a WebAssembly module
(kernels.wasm) goes in as a base64 string constant (KERNELS_WASM), since a component is one script."""
import base64
from pathlib import Path

HERE = Path(__file__).parent


def _text(name: str) -> str:
    if name.endswith(".wasm"):
        constant = name.removesuffix(".wasm").upper() + "_WASM"
        return f'const {constant} = "{base64.b64encode((HERE / name).read_bytes()).decode()}";'
    return (HERE / name).read_text()


def source(*names: str) -> str:
    """The files' text, one after the other (kernels.wasm and nets.js first where a component runs
    networks)."""
    return "\n".join(_text(name) for name in names)
