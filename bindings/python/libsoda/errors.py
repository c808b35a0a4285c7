# SPDX-License-Identifier: LGPL-2.1-or-later
"""libsoda's errors as Python exceptions.

Every failure raises a SodaError, which is an OSError: .errno is the
positive errno, .strerror and .message the library's message, and for bad
input .source, .line and .column (1-based; 0 when unknown) locate it.
Each errno that Python gives an OSError subclass of its own raises a class
that derives from both SodaError and that subclass, so

    try:
        ctx.define(cfg)
    except FileExistsError:      # -EEXIST: the name is taken
        ...

works, and so does ``except libsoda.SodaError``.
"""

from __future__ import annotations

import errno as _errno
import os
from typing import Any, Dict, Optional, Type

from ._ffi import ffi, lib, to_opt, to_str

__all__ = ["SodaError", "error_class"]


class SodaError(OSError):
    """A libsoda failure (-errno, message, and where bad input was)."""

    def __init__(self, errno: int, message: str, source: Optional[str] = None,
                 line: int = 0, column: int = 0) -> None:
        super().__init__(errno, message)
        self.message = message
        self.source = source
        self.line = line
        self.column = column

    @property
    def code(self) -> int:
        """The library's return value: -errno."""
        return -(self.errno or 0)

    def __str__(self) -> str:
        name = _errno.errorcode.get(self.errno or 0, str(self.errno))
        where = ""
        if self.source and self.line:
            where = "%s:%d:%d: " % (self.source, self.line, self.column)
            if self.message.startswith(where) or self.message.startswith(self.source):
                where = ""
        return "%s%s [%s]" % (where, self.message, name)

    def __reduce__(self) -> Any:
        return (make_error, (self.errno, self.message, self.source, self.line, self.column))


# The errno -> OSError subclass table Python itself uses (PEP 3151).
_OS_SUBCLASSES: Dict[int, Type[OSError]] = {}
for _names, _cls in (
        (("EAGAIN", "EALREADY", "EWOULDBLOCK", "EINPROGRESS"), BlockingIOError),
        (("ECHILD",), ChildProcessError),
        (("EPIPE", "ESHUTDOWN"), BrokenPipeError),
        (("ECONNABORTED",), ConnectionAbortedError),
        (("ECONNREFUSED",), ConnectionRefusedError),
        (("ECONNRESET",), ConnectionResetError),
        (("EEXIST",), FileExistsError),
        (("ENOENT",), FileNotFoundError),
        (("EINTR",), InterruptedError),
        (("EISDIR",), IsADirectoryError),
        (("ENOTDIR",), NotADirectoryError),
        (("EACCES", "EPERM"), PermissionError),
        (("ESRCH",), ProcessLookupError),
        (("ETIMEDOUT",), TimeoutError)):
    for _n in _names:
        if hasattr(_errno, _n):
            _OS_SUBCLASSES[getattr(_errno, _n)] = _cls

_classes: Dict[Type[OSError], Type[SodaError]] = {}


def error_class(errno: int) -> Type[SodaError]:
    """The class raised for @errno: SodaError, or a class deriving from
    SodaError and the OSError subclass Python has for @errno."""
    base = _OS_SUBCLASSES.get(errno)
    if base is None:
        return SodaError
    cls = _classes.get(base)
    if cls is None:
        cls = type("Soda" + base.__name__, (SodaError, base),
                   {"__doc__": "SodaError that is also a %s." % base.__name__,
                    "__module__": __name__})
        _classes[base] = cls
        globals()[cls.__name__] = cls
    return cls


def make_error(errno: int, message: str, source: Optional[str] = None, line: int = 0,
               column: int = 0) -> SodaError:
    return error_class(errno)(errno, message, source, line, column)


# Make every class at import time, so they can be named
# (libsoda.errors.SodaFileExistsError) and pickled.
for _e in set(_OS_SUBCLASSES):
    error_class(_e)


class ErrorSlot:
    """A soda_error ** for one call."""

    __slots__ = ("p",)

    def __init__(self) -> None:
        self.p = ffi.new("soda_error **")

    def check(self, r: int) -> int:
        e = self.p[0]
        if r >= 0:
            if e != ffi.NULL:
                lib.soda_error_free(e)
            return r
        if e == ffi.NULL:
            raise make_error(-r, os.strerror(-r))
        try:
            exc = make_error(-lib.soda_error_code(e), to_str(lib.soda_error_message(e)) or "",
                             to_opt(lib.soda_error_source(e)), lib.soda_error_line(e),
                             lib.soda_error_column(e))
        finally:
            lib.soda_error_free(e)
        raise exc


def call(fn: Any, *args: Any) -> int:
    """Calls a libsoda function whose last argument is soda_error **."""
    slot = ErrorSlot()
    return slot.check(fn(*args, slot.p))


def check_rc(r: int, what: str = "") -> int:
    """For the few calls without soda_error **: raise on a negative return."""
    if r < 0:
        msg = os.strerror(-r)
        raise make_error(-r, "%s: %s" % (what, msg) if what else msg)
    return r
