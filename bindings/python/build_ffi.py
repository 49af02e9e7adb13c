"""Generate the C source of the cffi extension ``wafermon._wafermon`` (API mode).

Run by CMake (``bindings/python/CMakeLists.txt``) at build time; the output is never committed::

    python build_ffi.py OUTPUT.c
"""

from __future__ import annotations

import sys
from pathlib import Path

import cffi

HERE = Path(__file__).resolve().parent


def make_ffi() -> cffi.FFI:
    """The FFI object: the cdef from its own file, the preamble that includes the real header."""
    ffi = cffi.FFI()
    ffi.cdef((HERE / "_wafermon.cdef.h").read_text(encoding="utf-8"))
    ffi.set_source("wafermon._wafermon", (HERE / "_wafermon.csrc.c").read_text(encoding="utf-8"))
    return ffi


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: build_ffi.py OUTPUT.c", file=sys.stderr)
        return 2
    out = Path(argv[1])
    out.parent.mkdir(parents=True, exist_ok=True)
    make_ffi().emit_c_code(str(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
