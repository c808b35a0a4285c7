# SPDX-License-Identifier: LGPL-2.1-or-later
"""Loads libsoda (cffi, ABI mode: no compiler needed at install or run time).

The library is looked for, in order: $SODA_LIBRARY; beside the package
(a copy put there by whoever packages it); the prefix the package was
installed into (PREFIX/lib/pythonX.Y/site-packages/libsoda -> PREFIX/lib);
then "libsoda.so.0" through the dynamic linker's usual search.
"""

from __future__ import annotations

import os
from typing import Any, List, Optional

from cffi import FFI

from ._cdef import CDEF

ffi = FFI()
ffi.cdef(CDEF)

SONAME = "libsoda.so.0"


def _candidates() -> List[str]:
    here = os.path.dirname(os.path.abspath(__file__))
    found = []
    env = os.environ.get("SODA_LIBRARY")
    if env:
        return [env]
    for d in (here, os.path.join(here, "..", "..", "..")):
        p = os.path.normpath(os.path.join(d, SONAME))
        if os.path.exists(p):
            found.append(p)
    found.append(SONAME)
    return found


def _load() -> Any:
    last: OSError = OSError("libsoda: no library to try")
    for path in _candidates():
        try:
            return ffi.dlopen(path)
        except OSError as e:
            last = e
    raise ImportError("libsoda: cannot load %s (set $SODA_LIBRARY to its path): %s"
                      % (SONAME, last))


lib: Any = _load()


def to_opt(p: Any) -> Optional[str]:
    """A borrowed C string as str, None for NULL."""
    if p == ffi.NULL:
        return None
    return str(ffi.string(p).decode("utf-8", "surrogateescape"))


def to_str(p: Any) -> str:
    """A borrowed C string as str, "" for NULL."""
    return to_opt(p) or ""


def to_c(s: Any) -> Any:
    """str, bytes or a path as bytes for a const char * argument; None as NULL."""
    if s is None:
        return ffi.NULL
    if isinstance(s, (bytes, str, os.PathLike)):
        b = os.fsencode(s)
    else:
        raise TypeError("expected str, bytes or a path, not %s" % type(s).__name__)
    if b"\0" in b:
        raise ValueError("embedded NUL byte in %r" % (s,))
    return b


def take_str(p: Any) -> str:
    """A char * the caller owns as str, freed with soda_free()."""
    try:
        return to_str(p)
    finally:
        lib.soda_free(p)


def take_strv(v: Any, n: int) -> List[str]:
    try:
        return [to_str(v[i]) for i in range(n)]
    finally:
        lib.soda_strv_free(v)
