# SPDX-License-Identifier: LGPL-2.1-or-later
"""Python binding of libsoda (cffi, ABI mode: no compiler needed).

    import soda
    with soda.Context("uml:///", state_dir="/tmp/x") as ctx:
        ctx.build_image("busybox")
        srv = ctx.define(soda.ServerConfig("web", memory_mib=64))
        srv.start()
        print(srv.state)

Errors raise soda.SodaError, which carries the negative errno (.code), the
library's message and, for bad input, .source/.line/.column. The library
itself is found through $SODA_LIBRARY, else libsoda.so.0.

Thread model (as the C library's): one thread uses a context and its
objects at a time.
"""

import errno as _errno
import os as _os

from cffi import FFI as _FFI

from ._cdef import CDEF as _CDEF

__all__ = [
    "SodaError", "Context", "ServerConfig", "Server", "Event", "Shares",
    "STATE_SHUTOFF", "STATE_STARTING", "STATE_RUNNING", "STATE_PAUSED",
    "STATE_STOPPING", "STATE_CRASHED", "version",
]

ffi = _FFI()
ffi.cdef(_CDEF)
lib = ffi.dlopen(_os.environ.get("SODA_LIBRARY") or "libsoda.so.0")

STATE_SHUTOFF, STATE_STARTING, STATE_RUNNING, STATE_PAUSED, STATE_STOPPING, STATE_CRASHED = range(1, 7)
EVENT_STATE, EVENT_DEFINED, EVENT_UNDEFINED = 1, 2, 3
_START_WAIT_READY = 1
_SHARE_READONLY = 1
_DUMP_MEMORY = 1
_IMAGE_REPLACE = 1
_IMAGE_SOURCES = {"busybox": 1, "directory": 2, "tarball": 3, "ext4": 4}
_CONTEXT_OPTIONS_VERSION = 1
_STAT_MAX = 17


def version():
    """The loaded library's version string."""
    return ffi.string(lib.soda_version()).decode()


def _s(p):
    return ffi.string(p).decode("utf-8", "surrogateescape") if p != ffi.NULL else None


def _b(s):
    return None if s is None else os_fsencode(s)


def os_fsencode(s):
    return _os.fsencode(s) if isinstance(s, (str, bytes, _os.PathLike)) else str(s).encode()


class SodaError(Exception):
    """A libsoda failure: .code is -errno, .errno its positive value."""

    def __init__(self, code, message, source=None, line=0, column=0):
        super().__init__(message)
        self.code = code
        self.errno = -code
        self.message = message
        self.source = source
        self.line = line
        self.column = column

    def __str__(self):
        name = _errno.errorcode.get(self.errno, str(self.errno))
        return "%s [%s]" % (self.message, name)


class _Err:
    """A soda_error ** slot for one call."""

    def __init__(self):
        self.p = ffi.new("soda_error **")

    def check(self, r):
        if r >= 0:
            if self.p[0] != ffi.NULL:
                lib.soda_error_free(self.p[0])
            return r
        e = self.p[0]
        if e == ffi.NULL:
            raise SodaError(r, _os.strerror(-r))
        exc = SodaError(lib.soda_error_code(e), _s(lib.soda_error_message(e)),
                        _s(lib.soda_error_source(e)), lib.soda_error_line(e),
                        lib.soda_error_column(e))
        lib.soda_error_free(e)
        raise exc


def _call(fn, *args):
    err = _Err()
    return err.check(fn(*args, err.p))


def _strv(fn, *args):
    out = ffi.new("char ***")
    count = ffi.new("size_t *")
    _call(fn, out, count, *args)
    try:
        return [_s(out[0][i]) for i in range(count[0])]
    finally:
        lib.soda_strv_free(out[0])


class Shares:
    """Resource shares, from their text form ("cpu.weight=300 cpu.max=20%")."""

    def __init__(self, text=""):
        p = ffi.new("soda_shares **")
        _call(lib.soda_shares_parse, p, _b(text))
        self._p = ffi.gc(p[0], lib.soda_shares_free)

    def __str__(self):
        out = ffi.new("char **")
        _call(lib.soda_shares_format, out, self._p)
        try:
            return _s(out[0])
        finally:
            lib.soda_free(out[0])


class ServerConfig:
    """A server's configuration; setters validate at once."""

    def __init__(self, name, image=None, memory_mib=None):
        p = ffi.new("soda_server_config **")
        _call(lib.soda_server_config_new, p, _b(name))
        self._p = ffi.gc(p[0], lib.soda_server_config_free)
        if image is not None:
            self.image = image
        if memory_mib is not None:
            self.memory = memory_mib << 20

    @property
    def name(self):
        return _s(lib.soda_server_config_get_name(self._p))

    @property
    def image(self):
        return _s(lib.soda_server_config_get_image(self._p))

    @image.setter
    def image(self, value):
        _call(lib.soda_server_config_set_image, self._p, _b(value))

    @property
    def memory(self):
        return lib.soda_server_config_get_memory(self._p)

    @memory.setter
    def memory(self, value):
        _call(lib.soda_server_config_set_memory, self._p, int(value))

    def add_kernel_arg(self, arg):
        _call(lib.soda_server_config_add_kernel_arg, self._p, _b(arg))
        return self

    def add_share(self, host_dir, guest_dir, readonly=False):
        _call(lib.soda_server_config_add_share, self._p, _b(host_dir), _b(guest_dir),
              _SHARE_READONLY if readonly else 0)
        return self

    def add_nic(self, network, mac=None, addresses=()):
        _call(lib.soda_server_config_add_nic, self._p, _b(network), _b(mac) or ffi.NULL, 0)
        index = self._nics = getattr(self, "_nics", -1) + 1
        for a in addresses:
            _call(lib.soda_server_config_add_nic_address, self._p, index, _b(a))
        return self

    def add_label(self, label):
        _call(lib.soda_server_config_add_label, self._p, _b(label))
        return self

    def set_shares(self, shares):
        if not isinstance(shares, Shares):
            shares = Shares(shares)
        _call(lib.soda_server_config_set_shares, self._p, shares._p)
        return self

    def set_blackbox(self, box_public, sign_public=None):
        """Seals the server's blackbox to the tenant's X25519 public key
        (32 bytes); sign_public: the tenant's Ed25519 public key, or None."""
        for k in (box_public, sign_public):
            if k is not None and (not isinstance(k, bytes) or len(k) != 32):
                raise ValueError("a blackbox key is 32 bytes")
        _call(lib.soda_server_config_set_blackbox, self._p, box_public,
              sign_public if sign_public is not None else ffi.NULL)
        return self

    @property
    def blackbox(self):
        """The tenant's X25519 public key (bytes), or None."""
        out = ffi.new("uint8_t[32]")
        if not lib.soda_server_config_get_blackbox(self._p, out):
            return None
        return bytes(ffi.buffer(out, 32))


class Event:
    """One state change, as soda_context_process() delivers it."""

    __slots__ = ("kind", "server", "state", "previous", "reason")

    def __init__(self, ev):
        self.kind = lib.soda_event_get_kind(ev)
        self.server = _s(lib.soda_event_get_server(ev))
        self.state = lib.soda_event_get_state(ev)
        self.previous = lib.soda_event_get_previous_state(ev)
        self.reason = _s(lib.soda_event_get_reason(ev))

    @property
    def state_name(self):
        return _s(lib.soda_state_name(self.state))

    def __repr__(self):
        return "Event(%s, %s -> %s, %r)" % (self.server, _s(lib.soda_state_name(self.previous)),
                                             self.state_name, self.reason)


class Context:
    """A libsoda context (one per host or state directory)."""

    _p = None

    def __init__(self, uri=None, state_dir=None, monitor_path=None, agent_path=None,
                 netns=None, uid_base=0, uid_count=0, cgroup_parent=None):
        self._handlers = {}
        opts = ffi.new("soda_context_options *")
        lib.soda_context_options_init(opts, _CONTEXT_OPTIONS_VERSION)
        keep = []

        def cstr(v):
            if v is None:
                return ffi.NULL
            c = ffi.new("char[]", _b(v))
            keep.append(c)
            return c

        opts.state_dir = cstr(state_dir)
        opts.monitor_path = cstr(monitor_path)
        opts.agent_path = cstr(agent_path)
        opts.netns = cstr(netns)
        opts.cgroup_parent = cstr(cgroup_parent)
        opts.uid_base = uid_base
        opts.uid_count = uid_count
        p = ffi.new("soda_context **")
        _call(lib.soda_context_open, p, _b(uri) or ffi.NULL, opts, 0)
        self._p = p[0]

    def close(self):
        """Drops the context (servers keep running)."""
        if self._p is not None:
            lib.soda_context_unref(self._p)
            self._p = None
            self._handlers.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()

    @property
    def uri(self):
        return _s(lib.soda_context_get_uri(self._p))

    @property
    def state_dir(self):
        return _s(lib.soda_context_get_state_dir(self._p))

    def servers(self):
        return _strv(lib.soda_context_list_servers, self._p, 0)

    def server(self, name):
        p = ffi.new("soda_server **")
        _call(lib.soda_server_lookup, p, self._p, _b(name))
        return Server(self, p[0])

    def define(self, config):
        p = ffi.new("soda_server **")
        _call(lib.soda_server_define, p, self._p, config._p, 0)
        return Server(self, p[0])

    def images(self):
        return _strv(lib.soda_image_list, self._p, 0)

    def build_image(self, name, source_kind="busybox", source=None, size_mib=0, replace=False):
        _call(lib.soda_image_build, self._p, _b(name), _IMAGE_SOURCES[source_kind],
              _b(source) or ffi.NULL, size_mib << 20, _IMAGE_REPLACE if replace else 0)

    def remove_image(self, name):
        _call(lib.soda_image_remove, self._p, _b(name), 0)

    def recover(self):
        return _call(lib.soda_context_recover, self._p, 0)

    # Events: add fileno() to your event loop and call process() when it is
    # readable, or wait().
    def fileno(self):
        fd = lib.soda_context_get_fd(self._p)
        if fd < 0:
            raise SodaError(fd, _os.strerror(-fd))
        return fd

    def on_event(self, callback):
        """Calls callback(Event) from process(); returns an id for remove_handler()."""

        def trampoline(ctx, ev, userdata):
            try:
                callback(Event(ev))
                return 0
            except Exception:  # a handler's exception must not cross C
                import traceback
                traceback.print_exc()
                return 0

        cb = ffi.callback("soda_event_fn", trampoline)
        out = ffi.new("uint64_t *")
        _call(lib.soda_context_add_event_handler, out, self._p, cb, ffi.NULL, ffi.NULL, 0)
        self._handlers[out[0]] = cb
        return out[0]

    def remove_handler(self, handler_id):
        _call(lib.soda_context_remove_event_handler, self._p, handler_id)
        self._handlers.pop(handler_id, None)

    def process(self):
        return _call(lib.soda_context_process, self._p, 0)

    def wait(self, timeout_ms=-1):
        return _call(lib.soda_context_wait, self._p, timeout_ms, 0)


class Server:
    """A virtual server of a context."""

    def __init__(self, ctx, p):
        self.context = ctx
        self._p = ffi.gc(p, lib.soda_server_unref)

    @property
    def name(self):
        return _s(lib.soda_server_get_name(self._p))

    @property
    def state(self):
        out = ffi.new("int *")
        _call(lib.soda_server_get_state, out, self._p)
        return out[0]

    @property
    def state_name(self):
        return _s(lib.soda_state_name(self.state))

    def info(self):
        p = ffi.new("soda_server_info **")
        _call(lib.soda_server_get_info, p, self._p, 0)
        i = p[0]
        try:
            return {
                "state": _s(lib.soda_state_name(lib.soda_server_info_get_state(i))),
                "ready": bool(lib.soda_server_info_get_ready(i)),
                "monitor_pid": lib.soda_server_info_get_monitor_pid(i),
                "guest_pid": lib.soda_server_info_get_guest_pid(i),
                "uid": lib.soda_server_info_get_uid(i),
                "ready_usec": lib.soda_server_info_get_ready_usec(i),
                "exit_code": lib.soda_server_info_get_exit_code(i),
                "exit_signal": lib.soda_server_info_get_exit_signal(i),
                "reason": _s(lib.soda_server_info_get_reason(i)),
            }
        finally:
            lib.soda_server_info_free(i)

    def start(self, wait=True):
        _call(lib.soda_server_start, self._p, _START_WAIT_READY if wait else 0)

    def wait_state(self, state, timeout_ms=-1):
        _call(lib.soda_server_wait_state, self._p, state, timeout_ms, 0)

    def stop(self, timeout_ms=10000):
        _call(lib.soda_server_stop, self._p, timeout_ms, 0)

    def kill(self):
        _call(lib.soda_server_kill, self._p, 0)

    def freeze(self):
        _call(lib.soda_server_freeze, self._p, 0)

    def thaw(self):
        _call(lib.soda_server_thaw, self._p, 0)

    def restart(self, timeout_ms=10000, wait=True):
        _call(lib.soda_server_restart, self._p, timeout_ms, _START_WAIT_READY if wait else 0)

    def undefine(self):
        _call(lib.soda_server_undefine, self._p, 0)

    def dump(self, directory, memory=False):
        _call(lib.soda_server_dump, self._p, _b(directory), _DUMP_MEMORY if memory else 0)

    def open_console(self):
        """A connected socket to the console (a socket.socket)."""
        import socket
        out = ffi.new("int *")
        _call(lib.soda_server_open_console, out, self._p, 0)
        return socket.socket(fileno=out[0])

    def set_shares(self, shares):
        if not isinstance(shares, Shares):
            shares = Shares(shares)
        _call(lib.soda_server_set_shares, self._p, shares._p, 0)

    def stats(self):
        p = ffi.new("soda_stats **")
        _call(lib.soda_server_get_stats, p, self._p, 0)
        out = ffi.new("uint64_t *")
        try:
            result = {}
            for key in range(1, _STAT_MAX + 1):
                if lib.soda_stats_get(p[0], key, out) == 0:
                    result[_s(lib.soda_stats_key_name(key))] = out[0]
            return result
        finally:
            lib.soda_stats_free(p[0])
