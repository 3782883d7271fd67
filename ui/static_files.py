"""Where the files the browser fetches at run time (decoders, maps, images) are written, and the
URL each is served at."""
from __future__ import annotations

from pathlib import Path

# Files the browser fetches (decoders, maps, images), written on demand and served at app/static/
# (server.enableStaticServing).
STATIC_DIR = Path(__file__).resolve().parents[1] / "static"


def static_url(path: Path) -> str:
    """The URL the browser fetches a file under STATIC_DIR from."""
    return "app/static/" + path.relative_to(STATIC_DIR).as_posix()
