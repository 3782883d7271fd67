"""A dataset mirror on 127.0.0.1 for the download tests: an HTTP server over a folder of files, in
a thread, that can serve one file damaged or every file slowly.

    with mirror(SHARED_MNIST, damaged={"train-labels-idx1-ubyte.gz"}) as url:
        ...   # VAE_DATA_MIRROR=url
"""
from __future__ import annotations

import contextlib
import functools
import gzip
import http.server
import threading
import time
from pathlib import Path

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "MNIST" / "raw"


class _Handler(http.server.SimpleHTTPRequestHandler):
    damaged: set[str] = set()
    delay: float = 0.0
    served: list[str]

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        name = self.path.lstrip("/")
        path = Path(self.directory) / name
        self.served.append(name)
        if "/" in name or not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        if name in self.damaged:  # a well-formed .gz whose contents differ: only a checksum can tell
            raw = bytearray(gzip.decompress(data))
            raw[len(raw) // 2] ^= 0xFF
            data = gzip.compress(bytes(raw))
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        for start in range(0, len(data), 1 << 16):
            self.wfile.write(data[start:start + (1 << 16)])
            if self.delay:
                time.sleep(self.delay)


@contextlib.contextmanager
def mirror(folder: Path, damaged: set[str] = frozenset(), delay: float = 0.0):
    """Serve `folder` on a free port of 127.0.0.1; yields its base URL (with a trailing slash) and
    the list of file names asked for."""
    served: list[str] = []
    handler = type("Handler", (_Handler,), {"damaged": set(damaged), "delay": delay, "served": served})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", served
    finally:
        server.shutdown()
        server.server_close()
