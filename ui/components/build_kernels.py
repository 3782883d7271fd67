"""Build kernels.wasm from kernels.c (WebAssembly with SIMD, for nets.js).

    python -m ui.components.build_kernels      # needs clang and lld (Debian: apt-get install clang lld)

The .wasm is committed; tests/test_lint.py builds it again and compares the bytes (so it is never
out of date with kernels.c), and tests/test_browser_functions.py checks what it computes against torch.
"""
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from vae.files import atomic_write_bytes

HERE = Path(__file__).parent
EXPORTS = ("linear", "conv2d", "conv_transpose2d", "__heap_base")
# The compiler the committed kernels.wasm was built with (`clang --version`, first line): another
# version may emit other bytes for the same source.
BUILT_WITH = "Debian clang version 14.0.6"


def compiler() -> str | None:
    return shutil.which("clang") if shutil.which("wasm-ld") else None


def compiler_version() -> str:
    result = subprocess.run([compiler() or "clang", "--version"], capture_output=True, text=True, check=True)  # noqa: S603
    return result.stdout.splitlines()[0].strip()


def build() -> bytes:
    """kernels.c compiled; raises OSError or CalledProcessError when it cannot be."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "kernels.wasm"
        command = [compiler() or "clang", "--target=wasm32", "-O3", "-msimd128", "-mbulk-memory", "-nostdlib",
                   "-Wl,--no-entry", *(f"-Wl,--export={name}" for name in EXPORTS), "-o", str(out),
                   str(HERE / "kernels.c")]
        subprocess.run(command, check=True)  # noqa: S603 (a fixed command: the compiler on our own source)
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
