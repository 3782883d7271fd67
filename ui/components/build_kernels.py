"""Build kernels.wasm from kernels.c (WebAssembly with SIMD, for nets.js).

    python -m ui.components.build_kernels      # needs clang and lld (Debian: apt-get install clang lld)

The .wasm is committed, so only a change to kernels.c needs this (tests/test_browser_nets.py checks
what it computes against torch).
"""
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from vae.files import atomic_write_bytes

HERE = Path(__file__).parent
EXPORTS = ("linear", "conv2d", "conv_transpose2d", "__heap_base")


def compiler() -> str | None:
    return shutil.which("clang") if shutil.which("wasm-ld") else None


def build() -> bytes:
    """kernels.c compiled; raises OSError or CalledProcessError when it cannot be."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "kernels.wasm"
        subprocess.run([compiler() or "clang",  # noqa: S603 (a fixed command: the compiler on our own source) "--target=wasm32", "-O3", "-msimd128", "-mbulk-memory", "-nostdlib",
                        "-Wl,--no-entry", *(f"-Wl,--export={name}" for name in EXPORTS), "-o", str(out),
                        str(HERE / "kernels.c")], check=True)
        return out.read_bytes()


def main() -> None:
    try:
        wasm = build()
    except (OSError, subprocess.CalledProcessError) as error:
        sys.exit(f"could not build kernels.wasm ({error}); install clang and lld")
    atomic_write_bytes(HERE / "kernels.wasm", wasm)
    print(f"kernels.wasm: {len(wasm):,} bytes")


if __name__ == "__main__":
    main()
