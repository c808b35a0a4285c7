# SPDX-License-Identifier: LGPL-2.1-or-later
"""Contexts, images, server configurations, servers, shares and events."""

from __future__ import annotations

import collections
import errno
import dataclasses
import os
import select
import socket
import tempfile
import time
from typing import (Any, Callable, Deque, Dict, Iterator, List, Optional, Sequence, Tuple,
                    Union)

from ._ffi import ffi, lib, take_str, take_strv, to_c, to_opt, to_str
from .enums import (Direction, EventKind, GuestProfile, IdsResponse, IdsStat, ImageSource,
                    LogLevel, Retention, Stat, State, as_enum)
from .errors import SodaError, call, check_rc, make_error

PathLike = Union[str, bytes, "os.PathLike[str]"]

_START_WAIT_READY = 1 << 0
_SHARE_READONLY = 1 << 0
_SHARE_ALLOW_SENSITIVE = 1 << 1
_DUMP_MEMORY = 1 << 0
_IMAGE_REPLACE = 1 << 0
_CONTEXT_OPTIONS_VERSION = 2


def version() -> str:
    """The loaded library's version, "MAJOR.MINOR.PATCH"."""
    return to_str(lib.soda_version())


def version_number() -> int:
    """MAJOR << 16 | MINOR << 8 | PATCH of the loaded library."""
    return int(lib.soda_version_number())


def memory_min() -> int:
    """The smallest guest memory that boots, in bytes."""
    return int(lib.soda_memory_min())


def name_max() -> int:
    """The longest server or image name, in bytes."""
    return int(lib.soda_name_max())


def check_name(name: str) -> None:
    """Raises SodaError (EINVAL, naming the offending byte) for a bad name."""
    call(lib.soda_name_check, to_c(name))


def state_name(state: int) -> str:
    """The library's name for a state ("running"...)."""
    return to_str(lib.soda_state_name(int(state)))


def guest_profile_name(profile: int) -> Optional[str]:
    """The library's name of a guest profile ("locked", "open"), or None."""
    return to_opt(lib.soda_guest_profile_name(int(profile)))


def guest_profile_from_name(name: str) -> Union[GuestProfile, int]:
    """The guest profile called @name (SodaError EINVAL for none)."""
    out = ffi.new("uint32_t *")
    call(lib.soda_guest_profile_from_name, out, to_c(name))
    return as_enum(GuestProfile, out[0])


def retention_name(policy: int) -> Optional[str]:
    """The library's name of a blackbox retention policy ("stop", "drop-oldest"), or None."""
    return to_opt(lib.soda_blackbox_retention_name(int(policy)))


def retention_from_name(name: str) -> Union[Retention, int]:
    """The retention policy called @name (SodaError EINVAL for none)."""
    out = ffi.new("uint32_t *")
    call(lib.soda_blackbox_retention_from_name, out, to_c(name))
    return as_enum(Retention, out[0])


def ids_stat_key_name(key: int) -> Optional[str]:
    """The library's name of an IDS counter ("packets"...), or None."""
    return to_opt(lib.soda_ids_stats_key_name(int(key)))


def _ms(timeout: Optional[float]) -> int:
    """Seconds (None: no limit) as the library's int32 milliseconds (-1: none)."""
    if timeout is None:
        return -1
    if timeout < 0:
        raise ValueError("a timeout is not negative")
    return min(int(timeout * 1000), 2**31 - 1)


# ---- shares and statistics ----

class Shares:
    """A server's resource shares (CPU weight and cap, CPUs, memory
    backstop, process limit, bandwidth). Built from text, as
    ``Shares("cpu.weight=300 cpu.max=20% net.out=20Mbit")``, or by setters."""

    def __init__(self, text: Optional[str] = None) -> None:
        p = ffi.new("soda_shares **")
        if text is None:
            call(lib.soda_shares_new, p)
        else:
            call(lib.soda_shares_parse, p, to_c(text))
        self._p = ffi.gc(p[0], lib.soda_shares_free)

    @classmethod
    def _take(cls, p: Any) -> "Shares":
        s = cls.__new__(cls)
        s._p = ffi.gc(p, lib.soda_shares_free)
        return s

    def copy(self) -> "Shares":
        p = ffi.new("soda_shares **")
        call(lib.soda_shares_copy, p, self._p)
        return Shares._take(p[0])

    def __str__(self) -> str:
        out = ffi.new("char **")
        call(lib.soda_shares_format, out, self._p)
        return take_str(out[0])

    def __repr__(self) -> str:
        return "Shares(%r)" % str(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Shares) and str(self) == str(other)

    @property
    def cpu_weight(self) -> int:
        """Proportional CPU weight, 1..10000 (default 100)."""
        return int(lib.soda_shares_get_cpu_weight(self._p))

    @cpu_weight.setter
    def cpu_weight(self, weight: int) -> None:
        call(lib.soda_shares_set_cpu_weight, self._p, int(weight))

    @property
    def cpu_max(self) -> int:
        """CPU cap in percent of one CPU; 0: none."""
        return int(lib.soda_shares_get_cpu_max(self._p))

    @cpu_max.setter
    def cpu_max(self, percent: int) -> None:
        call(lib.soda_shares_set_cpu_max, self._p, int(percent))

    @property
    def cpus(self) -> Optional[str]:
        """The CPU list ("0-3,6"), or None for all."""
        return to_opt(lib.soda_shares_get_cpus(self._p))

    @cpus.setter
    def cpus(self, cpus: Optional[str]) -> None:
        call(lib.soda_shares_set_cpus, self._p, to_c(cpus))

    @property
    def memory_max(self) -> int:
        """The host memory backstop in bytes; 0: the default."""
        return int(lib.soda_shares_get_memory_max(self._p))

    @memory_max.setter
    def memory_max(self, nbytes: int) -> None:
        call(lib.soda_shares_set_memory_max, self._p, int(nbytes))

    @property
    def pids_max(self) -> int:
        """The host process limit; 0: the default."""
        return int(lib.soda_shares_get_pids_max(self._p))

    @pids_max.setter
    def pids_max(self, n: int) -> None:
        call(lib.soda_shares_set_pids_max, self._p, int(n))

    def set_bandwidth(self, direction: Direction, rate_bps: int, burst_bytes: int = 0) -> None:
        """Limits @direction to @rate_bps bits per second (0: no limit)."""
        call(lib.soda_shares_set_bandwidth, self._p, int(direction), int(rate_bps),
             int(burst_bytes))

    def bandwidth(self, direction: Direction) -> Tuple[int, int]:
        """(rate in bits per second, burst in bytes); 0 for none or default."""
        rate = ffi.new("uint64_t *")
        burst = ffi.new("uint64_t *")
        check_rc(lib.soda_shares_get_bandwidth(self._p, int(direction), rate, burst),
                 "bandwidth")
        return int(rate[0]), int(burst[0])


def _shares(s: Union[Shares, str]) -> Shares:
    return s if isinstance(s, Shares) else Shares(s)


def stat_key_name(key: int) -> Optional[str]:
    """The library's name of a statistic key ("cpu_usec"...), or None."""
    return to_opt(lib.soda_stats_key_name(int(key)))


# ---- configurations ----

@dataclasses.dataclass(frozen=True)
class Share:
    """A host directory shared into the guest."""
    host_dir: str
    guest_dir: str
    readonly: bool


@dataclasses.dataclass(frozen=True)
class Nic:
    """A network interface of a configuration."""
    network: str
    mac: Optional[str]
    addresses: Tuple[str, ...]


class ServerConfig:
    """A server's configuration. Setters check their input at once and
    raise SodaError (EINVAL with a message saying what is wrong)."""

    def __init__(self, name: str, *, image: Optional[str] = None,
                 memory: Optional[int] = None, memory_mib: Optional[int] = None,
                 shares: Union[Shares, str, None] = None,
                 labels: Sequence[str] = ()) -> None:
        p = ffi.new("soda_server_config **")
        call(lib.soda_server_config_new, p, to_c(name))
        self._p = ffi.gc(p[0], lib.soda_server_config_free)
        if image is not None:
            self.image = image
        if memory_mib is not None:
            memory = memory_mib << 20
        if memory is not None:
            self.memory = memory
        if shares is not None:
            self.shares = shares  # type: ignore[assignment]
        for label in labels:
            self.add_label(label)

    @classmethod
    def _take(cls, p: Any) -> "ServerConfig":
        c = cls.__new__(cls)
        c._p = ffi.gc(p, lib.soda_server_config_free)
        return c

    def copy(self) -> "ServerConfig":
        p = ffi.new("soda_server_config **")
        call(lib.soda_server_config_copy, p, self._p)
        return ServerConfig._take(p[0])

    def __repr__(self) -> str:
        return "ServerConfig(%r, image=%r, memory=%d)" % (self.name, self.image, self.memory)

    @property
    def name(self) -> str:
        return to_str(lib.soda_server_config_get_name(self._p))

    @property
    def image(self) -> str:
        """The image's name in the context's image store (default "busybox")."""
        return to_str(lib.soda_server_config_get_image(self._p))

    @image.setter
    def image(self, image: str) -> None:
        call(lib.soda_server_config_set_image, self._p, to_c(image))

    @property
    def memory(self) -> int:
        """Guest memory in bytes."""
        return int(lib.soda_server_config_get_memory(self._p))

    @memory.setter
    def memory(self, nbytes: int) -> None:
        call(lib.soda_server_config_set_memory, self._p, int(nbytes))

    @property
    def kernel_args(self) -> List[str]:
        n = lib.soda_server_config_get_kernel_arg_count(self._p)
        return [to_str(lib.soda_server_config_get_kernel_arg(self._p, i)) for i in range(n)]

    def add_kernel_arg(self, arg: str) -> "ServerConfig":
        call(lib.soda_server_config_add_kernel_arg, self._p, to_c(arg))
        return self

    @property
    def shared_dirs(self) -> List[Share]:
        """The host directories shared into the guest."""
        out = []
        h = ffi.new("const char **")
        g = ffi.new("const char **")
        f = ffi.new("unsigned int *")
        for i in range(lib.soda_server_config_get_share_count(self._p)):
            check_rc(lib.soda_server_config_get_share(self._p, i, h, g, f), "share")
            out.append(Share(to_str(h[0]), to_str(g[0]), bool(f[0] & _SHARE_READONLY)))
        return out

    def add_share(self, host_dir: PathLike, guest_dir: PathLike, readonly: bool = False,
                  allow_sensitive: bool = False) -> "ServerConfig":
        """Shares host directory @host_dir into the guest at @guest_dir.
        Sensitive host directories (/, /etc, the state directory...) are
        refused with PermissionError unless @allow_sensitive (libsoda 0.2)."""
        flags = (_SHARE_READONLY if readonly else 0) | \
            (_SHARE_ALLOW_SENSITIVE if allow_sensitive else 0)
        call(lib.soda_server_config_add_share, self._p, to_c(host_dir), to_c(guest_dir), flags)
        return self

    @property
    def nics(self) -> List[Nic]:
        out = []
        net = ffi.new("const char **")
        mac = ffi.new("const char **")
        for i in range(lib.soda_server_config_get_nic_count(self._p)):
            check_rc(lib.soda_server_config_get_nic(self._p, i, net, mac), "nic")
            addrs = tuple(to_str(lib.soda_server_config_get_nic_address(self._p, i, j))
                          for j in range(lib.soda_server_config_get_nic_address_count(self._p, i)))
            out.append(Nic(to_str(net[0]), to_opt(mac[0]), addrs))
        return out

    def add_nic(self, network: str, mac: Optional[str] = None,
                addresses: Sequence[str] = ()) -> "ServerConfig":
        """Adds a NIC on @network with @addresses ("198.51.100.7/24")."""
        call(lib.soda_server_config_add_nic, self._p, to_c(network), to_c(mac), 0)
        index = lib.soda_server_config_get_nic_count(self._p) - 1
        for a in addresses:
            self.add_nic_address(index, a)
        return self

    def add_nic_address(self, index: int, cidr: str) -> "ServerConfig":
        call(lib.soda_server_config_add_nic_address, self._p, int(index), to_c(cidr))
        return self

    @property
    def blackbox_retention(self) -> Tuple[Union[Retention, int], int]:
        """(policy, quota in bytes; 0: the default) of the blackbox store."""
        quota = ffi.new("uint64_t *")
        policy = lib.soda_server_config_get_blackbox_retention(self._p, quota)
        return as_enum(Retention, policy), int(quota[0])

    def set_blackbox_retention(self, policy: Union[Retention, int, str],
                               quota_bytes: int = 0) -> "ServerConfig":
        """What the blackbox store does at its quota (at least 1 MiB; 0: 1 GiB)."""
        value = retention_from_name(policy) if isinstance(policy, str) else policy
        call(lib.soda_server_config_set_blackbox_retention, self._p, int(value), int(quota_bytes))
        return self

    @property
    def ids_landlord_alerts(self) -> bool:
        """Whether the landlord may see the metadata of the port IDS's alerts."""
        return bool(lib.soda_server_config_get_ids_landlord_alerts(self._p))

    @ids_landlord_alerts.setter
    def ids_landlord_alerts(self, allow: bool) -> None:
        call(lib.soda_server_config_set_ids_landlord_alerts, self._p, 1 if allow else 0)

    @property
    def ids_response(self) -> Tuple[Union[IdsResponse, int], int]:
        """(response, lowest priority number it answers: 1 is the highest)."""
        r = ffi.new("uint32_t *")
        m = ffi.new("uint32_t *")
        check_rc(lib.soda_server_config_get_ids_response(self._p, r, m), "ids response")
        return as_enum(IdsResponse, r[0]), int(m[0])

    def set_ids_rules(self, path: Optional[PathLike]) -> "ServerConfig":
        """Rules for the IDS inside the guest (docs/ids.md), read and
        checked now and kept in the configuration; None removes them."""
        call(lib.soda_server_config_set_ids_rules, self._p, to_c(path), 0)
        return self

    @property
    def ids_rules_sha256(self) -> Optional[str]:
        """The SHA-256 of the guest's IDS rules (64 hex digits), or None."""
        return to_opt(lib.soda_server_config_get_ids_rules_sha256(self._p))

    def set_ids_response(self, response: IdsResponse, min_priority: int = 1) -> "ServerConfig":
        """Responds to alerts of priority @min_priority or higher (1..255)."""
        call(lib.soda_server_config_set_ids_response, self._p, int(response), int(min_priority))
        return self

    @property
    def ids_bypass(self) -> int:
        """The port IDS's flow bypass depth in bytes (0: off)."""
        return int(lib.soda_server_config_get_ids_bypass(self._p))

    @ids_bypass.setter
    def ids_bypass(self, depth: int) -> None:
        call(lib.soda_server_config_set_ids_bypass, self._p, int(depth))

    @property
    def guest_profile(self) -> Union[GuestProfile, int]:
        """What root in the guest may do to the guest kernel (LOCKED by default)."""
        return as_enum(GuestProfile, lib.soda_server_config_get_guest_profile(self._p))

    @guest_profile.setter
    def guest_profile(self, profile: Union[GuestProfile, int, str]) -> None:
        value = guest_profile_from_name(profile) if isinstance(profile, str) else profile
        call(lib.soda_server_config_set_guest_profile, self._p, int(value))

    @property
    def labels(self) -> List[str]:
        return [to_str(lib.soda_server_config_get_label(self._p, i))
                for i in range(lib.soda_server_config_get_label_count(self._p))]

    def add_label(self, label: str) -> "ServerConfig":
        """Tags the server; policies use labels as groups."""
        call(lib.soda_server_config_add_label, self._p, to_c(label))
        return self

    @property
    def shares(self) -> Shares:
        """A copy of the configuration's shares (assign to change them)."""
        p = ffi.new("soda_shares **")
        call(lib.soda_server_config_get_shares, p, self._p)
        return Shares._take(p[0])

    @shares.setter
    def shares(self, shares: Union[Shares, str]) -> None:
        call(lib.soda_server_config_set_shares, self._p, _shares(shares)._p)

    def set_shares(self, shares: Union[Shares, str]) -> "ServerConfig":
        self.shares = shares  # type: ignore[assignment]
        return self

    def set_blackbox(self, box_public: Any, sign_public: Optional[bytes] = None
                     ) -> "ServerConfig":
        """Seals the server's blackbox to the tenant's key: a blackbox.Key,
        or the 32-byte X25519 public key (with the Ed25519 one, or None)."""
        if hasattr(box_public, "box_public"):
            box_public = box_public.box_public
        for k in (box_public, sign_public):
            if k is not None and (not isinstance(k, (bytes, bytearray)) or len(k) != 32):
                raise ValueError("a blackbox public key is 32 bytes")
        call(lib.soda_server_config_set_blackbox, self._p, bytes(box_public),
             bytes(sign_public) if sign_public is not None else ffi.NULL)
        return self

    @property
    def blackbox(self) -> Optional[bytes]:
        """The tenant's X25519 public key, or None without a blackbox."""
        out = ffi.new("uint8_t[32]")
        if not lib.soda_server_config_get_blackbox(self._p, out):
            return None
        return bytes(ffi.buffer(out, 32))


# ---- events ----

@dataclasses.dataclass(frozen=True)
class Event:
    """One event, as the context delivers it."""
    kind: Union[EventKind, int]
    server: str
    state: Union[State, int]
    previous: Union[State, int]
    reason: str

    @classmethod
    def _from(cls, ev: Any) -> "Event":
        return cls(as_enum(EventKind, lib.soda_event_get_kind(ev)),
                   to_str(lib.soda_event_get_server(ev)),
                   as_enum(State, lib.soda_event_get_state(ev)),
                   as_enum(State, lib.soda_event_get_previous_state(ev)),
                   to_str(lib.soda_event_get_reason(ev)) or "")

    def __str__(self) -> str:
        if self.kind == EventKind.STATE:
            return "%s: %s -> %s (%s)" % (self.server, state_name(self.previous),
                                          state_name(self.state), self.reason)
        kind = as_enum(EventKind, self.kind)
        name = kind.name.lower() if isinstance(kind, EventKind) else str(kind)
        return "%s: %s%s" % (self.server, name, " (%s)" % self.reason if self.reason else "")


# ---- context ----

class Context:
    """A libsoda context: "uml:///" (the default), "uml:///?state=DIR", or
    "test:///default" (in memory, for tests). Closes on close(), at the
    end of a with block, or when collected; servers keep running.
    driver_options are the backend's settings, its URI query keys
    (docs/backends/NAME.md; uml: binary, monitor, agent, uid_base,
    uid_count, cgroup_parent), e.g. {"agent": "/usr/libexec/soda-agent"}."""

    _p: Any = None

    def __init__(self, uri: Optional[str] = None, *, state_dir: Optional[PathLike] = None,
                 driver_options: Optional[Dict[str, Any]] = None,
                 netns: Optional[str] = None,
                 log: Optional[Callable[[Union[LogLevel, int], str], None]] = None,
                 log_level: int = 0) -> None:
        self._handlers: Dict[int, Any] = {}
        self._queue: Deque[Event] = collections.deque()
        self._queue_id: Optional[int] = None
        self._log_cb: Any = None
        opts = ffi.new("soda_context_options *")
        check_rc(lib.soda_context_options_init(opts, _CONTEXT_OPTIONS_VERSION), "options")
        keep = []

        def cstr(v: Any) -> Any:
            if v is None:
                return ffi.NULL
            c = ffi.new("char[]", to_c(v))
            keep.append(c)
            return c

        opts.state_dir = cstr(state_dir)
        opts.netns = cstr(netns)
        if driver_options:
            pairs = [cstr("%s=%s" % (k, os.fspath(v) if isinstance(v, os.PathLike) else v))
                     for k, v in driver_options.items() if v is not None]
            arr = ffi.new("const char *[]", pairs + [ffi.NULL])
            keep.append(arr)
            opts.driver_options = arr
        opts.log_level = log_level
        if log is not None:
            log_fn = log

            def on_log(level: int, message: Any, userdata: Any) -> None:
                try:
                    log_fn(as_enum(LogLevel, level), to_str(message))
                except Exception:  # nothing may unwind through C
                    pass
            self._log_cb = ffi.callback("soda_log_fn", on_log)
            opts.log_fn = self._log_cb
        p = ffi.new("soda_context **")
        call(lib.soda_context_open, p, to_c(uri), opts, 0)
        self._p = p[0]

    @classmethod
    def _wrap(cls, p: Any) -> "Context":
        """A Context object holding a new reference on C context @p."""
        c = cls.__new__(cls)
        c._handlers = {}
        c._queue = collections.deque()
        c._queue_id = None
        c._log_cb = None
        c._p = lib.soda_context_ref(p)
        return c

    def _ptr(self) -> Any:
        if self._p is None:
            raise ValueError("the context is closed")
        return self._p

    def close(self) -> None:
        """Drops the context (servers keep running; their objects keep the
        context alive until they go)."""
        if self._p is not None:
            lib.soda_context_unref(self._p)
            self._p = None
            self._handlers.clear()

    def __enter__(self) -> "Context":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    @property
    def uri(self) -> str:
        return to_str(lib.soda_context_get_uri(self._ptr()))

    @property
    def state_dir(self) -> Optional[str]:
        return to_opt(lib.soda_context_get_state_dir(self._ptr()))

    @property
    def netns(self) -> Optional[str]:
        """The path of the guests' network namespace, or None."""
        return to_opt(lib.soda_context_get_netns(self._ptr()))

    def recover(self) -> int:
        """Cleans up after dead monitors now; returns how many servers."""
        return call(lib.soda_context_recover, self._ptr(), 0)

    # servers
    def servers(self) -> List[str]:
        """The servers' names, sorted."""
        v = ffi.new("char ***")
        n = ffi.new("size_t *")
        call(lib.soda_context_list_servers, v, n, self._ptr(), 0)
        return take_strv(v[0], n[0])

    def server(self, name: str) -> "Server":
        """The server @name (FileNotFoundError if there is none)."""
        p = ffi.new("soda_server **")
        call(lib.soda_server_lookup, p, self._ptr(), to_c(name))
        return Server(self, p[0])

    def define(self, config: ServerConfig) -> "Server":
        """Records a new server (shut off) from @config."""
        p = ffi.new("soda_server **")
        call(lib.soda_server_define, p, self._ptr(), config._p, 0)
        return Server(self, p[0])

    # images
    def images(self) -> List[str]:
        v = ffi.new("char ***")
        n = ffi.new("size_t *")
        call(lib.soda_image_list, v, n, self._ptr(), 0)
        return take_strv(v[0], n[0])

    def build_image(self, name: str, source_kind: Union[ImageSource, str] = ImageSource.BUSYBOX,
                    source: Optional[PathLike] = None, size: int = 0,
                    replace: bool = False) -> None:
        """Builds image @name from @source (a directory, tarball or ext4
        file, per @source_kind; nothing for busybox). @size in bytes, 0:
        what the content needs."""
        if isinstance(source_kind, str):
            source_kind = ImageSource[source_kind.upper()]
        call(lib.soda_image_build, self._ptr(), to_c(name), int(source_kind), to_c(source),
             int(size), _IMAGE_REPLACE if replace else 0)

    def remove_image(self, name: str) -> None:
        call(lib.soda_image_remove, self._ptr(), to_c(name), 0)

    def image_path(self, name: str) -> str:
        out = ffi.new("char **")
        call(lib.soda_image_get_path, out, self._ptr(), to_c(name))
        return take_str(out[0])

    # networks (libsoda.network)
    def networks(self) -> List[str]:
        v = ffi.new("char ***")
        n = ffi.new("size_t *")
        call(lib.soda_context_list_networks, v, n, self._ptr(), 0)
        return take_strv(v[0], n[0])

    def create_network(self, name: str, uplink: Optional[str] = None,
                       firewall: bool = True) -> Any:
        from .network import Network
        return Network._create(self, name, uplink, firewall)

    def network(self, name: str) -> Any:
        from .network import Network
        return Network._lookup(self, name)

    # events
    def fileno(self) -> int:
        """A descriptor that is readable when process() has work."""
        return check_rc(lib.soda_context_get_fd(self._ptr()), "fd")

    def on_event(self, callback: Callable[[Event], Any]) -> int:
        """Calls @callback(Event) from process() and wait(); returns an id
        for remove_handler(). An exception in @callback stops that round
        of processing and is raised from process()."""
        failure: List[BaseException] = []

        def trampoline(ctx: Any, ev: Any, userdata: Any) -> int:
            try:
                callback(Event._from(ev))
                return 0
            except BaseException as e:  # nothing may unwind through C
                failure.append(e)
                return -1

        cb = ffi.callback("soda_event_fn", trampoline)
        out = ffi.new("uint64_t *")
        call(lib.soda_context_add_event_handler, out, self._ptr(), cb, ffi.NULL, ffi.NULL, 0)
        self._handlers[int(out[0])] = (cb, failure)
        return int(out[0])

    def remove_handler(self, handler_id: int) -> None:
        call(lib.soda_context_remove_event_handler, self._ptr(), int(handler_id))
        self._handlers.pop(handler_id, None)

    def _reraise(self) -> None:
        for _, failure in self._handlers.values():
            if failure:
                e = failure.pop(0)
                failure.clear()
                raise e

    def process(self) -> int:
        """Dispatches pending events to the handlers; never blocks.
        Returns how many."""
        try:
            return call(lib.soda_context_process, self._ptr(), 0)
        except SodaError:
            self._reraise()
            raise

    def wait(self, timeout: Optional[float] = None) -> int:
        """Waits up to @timeout seconds (None: no limit) for events and
        dispatches them; 0 on timeout."""
        try:
            return call(lib.soda_context_wait, self._ptr(), _ms(timeout), 0)
        except SodaError:
            self._reraise()
            raise

    def events(self, timeout: Optional[float] = None) -> Iterator[Event]:
        """Iterates over events as they come: defined, state changes,
        undefined, from this process or any other on the same state
        directory. Stops when @timeout seconds pass without one (None:
        never), or when the loop breaks. Events are what the library
        notices when it looks again at the state (here, in process(),
        wait() and the waits inside calls): a state that lasts is always
        reported, one that came and went between two looks may not be.
        Events that arrive while no iteration runs go to the handlers of
        on_event() only."""
        if self._queue_id is None:
            self._queue_id = self.on_event(self._queue.append)
        try:
            while True:
                while self._queue:
                    yield self._queue.popleft()
                if self.process() > 0:
                    continue
                if self.wait(timeout) == 0 and not self._queue:
                    return
        finally:
            if self._p is not None and self._queue_id is not None:
                self.remove_handler(self._queue_id)
            self._queue_id = None

    def pending_events(self) -> List[Event]:
        """The events that are there now, without waiting."""
        return list(self.events(timeout=0))


# ---- servers ----

@dataclasses.dataclass(frozen=True)
class ServerInfo:
    """A snapshot of a server's run-time facts."""
    state: Union[State, int]
    ready: bool
    monitor_pid: int
    guest_pid: int
    uid: int
    started_usec: int
    ready_usec: int
    exit_code: int
    exit_signal: int
    reason: str


@dataclasses.dataclass(frozen=True)
class ExecResult:
    """How a command run by Server.run ended, and what it wrote."""
    status: int   # its exit status, 0-255; -1 when a signal ended it
    signal: int   # the signal that ended it, else 0
    stdout: bytes
    stderr: bytes


class Server:
    """A virtual server. As a context manager (``with ctx.define(cfg) as
    srv:``), it is stopped (killed after stop_timeout) and undefined at the
    end of the block."""

    stop_timeout = 10.0

    def __init__(self, ctx: Optional[Context], p: Any) -> None:
        if ctx is None:
            ctx = Context._wrap(lib.soda_server_get_context(p))
        self.context = ctx
        self._p = ffi.gc(p, lib.soda_server_unref)

    def __repr__(self) -> str:
        return "<Server %s>" % self.name

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc: Any) -> None:
        st = self.state
        if st not in (State.SHUTOFF, State.CRASHED):
            try:
                if st == State.PAUSED:
                    self.kill()
                else:
                    self.stop(self.stop_timeout)
            except SodaError:
                self.kill()
        self.undefine()

    def ref(self) -> "Server":
        """Another handle on the same server."""
        return Server(None, lib.soda_server_ref(self._p))

    @property
    def name(self) -> str:
        return to_str(lib.soda_server_get_name(self._p))

    @property
    def config(self) -> ServerConfig:
        """A copy of the server's configuration."""
        p = ffi.new("soda_server_config **")
        call(lib.soda_server_get_config, p, self._p)
        return ServerConfig._take(p[0])

    @property
    def state(self) -> Union[State, int]:
        out = ffi.new("int *")
        call(lib.soda_server_get_state, out, self._p)
        return as_enum(State, out[0])

    def info(self) -> ServerInfo:
        p = ffi.new("soda_server_info **")
        call(lib.soda_server_get_info, p, self._p, 0)
        i = p[0]
        try:
            return ServerInfo(
                as_enum(State, lib.soda_server_info_get_state(i)),
                bool(lib.soda_server_info_get_ready(i)),
                int(lib.soda_server_info_get_monitor_pid(i)),
                int(lib.soda_server_info_get_guest_pid(i)),
                int(lib.soda_server_info_get_uid(i)),
                int(lib.soda_server_info_get_started_usec(i)),
                int(lib.soda_server_info_get_ready_usec(i)),
                int(lib.soda_server_info_get_exit_code(i)),
                int(lib.soda_server_info_get_exit_signal(i)),
                to_str(lib.soda_server_info_get_reason(i)) or "")
        finally:
            lib.soda_server_info_free(i)

    def start(self, wait_ready: bool = True) -> None:
        """Boots the server; with @wait_ready, returns once it is running."""
        call(lib.soda_server_start, self._p, _START_WAIT_READY if wait_ready else 0)

    def wait_state(self, state: State, timeout: Optional[float] = None) -> None:
        """Waits until the server is in @state (TimeoutError after @timeout s)."""
        call(lib.soda_server_wait_state, self._p, int(state), _ms(timeout), 0)

    def stop(self, timeout: float = 10.0) -> None:
        """Shuts the guest down, by force after @timeout seconds."""
        call(lib.soda_server_stop, self._p, _ms(timeout), 0)

    def kill(self) -> None:
        call(lib.soda_server_kill, self._p, 0)

    def freeze(self) -> None:
        call(lib.soda_server_freeze, self._p, 0)

    def thaw(self) -> None:
        call(lib.soda_server_thaw, self._p, 0)

    def restart(self, timeout: float = 10.0, wait_ready: bool = True) -> None:
        call(lib.soda_server_restart, self._p, _ms(timeout),
             _START_WAIT_READY if wait_ready else 0)

    def undefine(self) -> None:
        call(lib.soda_server_undefine, self._p, 0)

    def dump(self, directory: PathLike, memory: bool = False) -> None:
        """Forensic dump into @directory, which must not exist yet."""
        call(lib.soda_server_dump, self._p, to_c(directory), _DUMP_MEMORY if memory else 0)

    def open_console(self) -> socket.socket:
        """A connected socket on the guest's console: reading gives its
        output (recent history first), writing types into it."""
        out = ffi.new("int *")
        call(lib.soda_server_open_console, out, self._p, 0)
        return socket.socket(fileno=out[0])

    def run(self, argv: Sequence[Union[str, bytes]], *, input: Optional[bytes] = None,
            env: Optional[Dict[str, str]] = None, user: Optional[Union[str, int]] = None,
            cwd: Optional[str] = None, timeout: Optional[float] = None) -> "ExecResult":
        """Runs @argv in the guest through its agent (soda_server_exec), not
        the console: exact status, stdout and stderr apart and binary,
        nothing in the console's recording. @input goes to its stdin (None:
        /dev/null). TimeoutError after @timeout s (the command is killed)."""
        return self._run(argv, input, env, user, cwd, timeout, False)

    def _run(self, argv: Sequence[Union[str, bytes]], input: Optional[bytes],
             env: Optional[Dict[str, str]], user: Optional[Union[str, int]],
             cwd: Optional[str], timeout: Optional[float], merge: bool) -> "ExecResult":
        if isinstance(argv, (str, bytes)):
            raise TypeError("argv is a sequence of words (use ['sh', '-c', line] for a shell)")
        keep = [ffi.new("char[]", os.fsencode(a)) for a in argv]
        c_argv = ffi.new("const char *[]", keep + [ffi.NULL])
        opts = ffi.new("soda_exec_options *")
        check_rc(lib.soda_exec_options_init(opts, 1), "exec options")
        if env:
            envs = [ffi.new("char[]", os.fsencode("%s=%s" % kv)) for kv in env.items()]
            keep += envs
            c_env = ffi.new("const char *[]", envs + [ffi.NULL])
            opts.env = c_env
        if user is not None:
            keep.append(ffi.new("char[]", str(user).encode()))
            opts.user = keep[-1]
        if cwd is not None:
            keep.append(ffi.new("char[]", os.fsencode(cwd)))
            opts.cwd = keep[-1]
        if timeout is not None:
            opts.timeout_ms = max(1, _ms(timeout))
        status = ffi.new("int *")
        # Files, not pipes: the call blocks until the command ends, so
        # nothing may wait on a reader.
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
                tempfile.TemporaryFile() as inp:
            if input is not None:
                inp.write(input)
                inp.flush()
                inp.seek(0)
                opts.stdin_fd = inp.fileno()
            opts.stdout_fd = out.fileno()
            opts.stderr_fd = out.fileno() if merge else err.fileno()
            call(lib.soda_server_exec, status, self._p, c_argv, opts, 0)
            out.seek(0)
            err.seek(0)
            code = int(status[0])
            return ExecResult(lib.soda_exec_status_code(code), lib.soda_exec_status_signal(code),
                              out.read(), err.read())

    def exec(self, command: str, timeout: float = 30.0) -> Tuple[int, str]:
        """Runs a shell command line (sh -c) through the guest's agent;
        returns its exit status (128 + N when signal N ended it) and what it
        printed, stdout and stderr together. TimeoutError after @timeout s."""
        r = self._run(["sh", "-c", command], None, None, None, None, timeout, True)
        return (128 + r.signal if r.signal else r.status,
                r.stdout.decode("utf-8", "replace"))

    @property
    def shares(self) -> Shares:
        return self.config.shares

    def set_shares(self, shares: Union[Shares, str]) -> None:
        """Changes the shares, live if running; all or nothing."""
        call(lib.soda_server_set_shares, self._p, _shares(shares)._p, 0)

    def stats(self) -> Dict[Union[Stat, int], int]:
        """A running server's statistics; keys this host cannot tell are left out."""
        p = ffi.new("soda_stats **")
        call(lib.soda_server_get_stats, p, self._p, 0)
        out = ffi.new("uint64_t *")
        try:
            result: Dict[Union[Stat, int], int] = {}
            key = 1
            while lib.soda_stats_key_name(key) != ffi.NULL:
                if lib.soda_stats_get(p[0], key, out) == 0:
                    result[as_enum(Stat, key)] = int(out[0])
                key += 1
            return result
        finally:
            lib.soda_stats_free(p[0])

    # the port IDS (include/soda/ids.h)
    def ids_enable(self, rules_path: PathLike, vars_path: Optional[PathLike] = None) -> None:
        """Starts the IDS at the running server's first NIC with these rules
        (and variables); a bad rule raises SodaError with its place."""
        call(lib.soda_server_ids_enable, self._p, to_c(rules_path), to_c(vars_path), 0)

    def ids_reload(self, rules_path: PathLike, vars_path: Optional[PathLike] = None) -> None:
        """Swaps the running IDS's rules; a bad set leaves the old in force."""
        call(lib.soda_server_ids_reload, self._p, to_c(rules_path), to_c(vars_path), 0)

    def ids_disable(self) -> None:
        call(lib.soda_server_ids_disable, self._p, 0)

    def ids_stats(self) -> Dict[Union[IdsStat, int], int]:
        """The port IDS's counters."""
        p = ffi.new("soda_ids_stats **")
        call(lib.soda_server_ids_stats, p, self._p, 0)
        out = ffi.new("uint64_t *")
        try:
            result: Dict[Union[IdsStat, int], int] = {}
            key = 1
            while lib.soda_ids_stats_key_name(key) != ffi.NULL:
                if lib.soda_ids_stats_get(p[0], key, out) == 0:
                    result[as_enum(IdsStat, key)] = int(out[0])
                key += 1
            return result
        finally:
            lib.soda_ids_stats_free(p[0])

    def ids_alerts(self) -> Any:
        """The landlord's alert stream (JSON lines, metadata only) as a
        binary file object; empty unless the configuration allows it."""
        fd = ffi.new("int *")
        call(lib.soda_server_ids_open_alerts, self._p, fd, 0)
        return os.fdopen(fd[0], "rb")

    @property
    def blackbox_dir(self) -> str:
        """The directory of the server's blackbox store."""
        out = ffi.new("char **")
        call(lib.soda_server_get_blackbox_dir, out, self._p)
        return take_str(out[0])
