"""The browser components' files (JavaScript and CSS), read as they are."""
from pathlib import Path

HERE = Path(__file__).parent


def source(*names: str) -> str:
    """The files' text, one after the other (nets.js first where a component runs networks)."""
    return "\n".join((HERE / name).read_text() for name in names)
