# SPDX-License-Identifier: LGPL-2.1-or-later
"""libsoda for Python (cffi, ABI mode: no compiler needed).

    import libsoda
    with libsoda.Context("uml:///", state_dir="/tmp/x") as ctx:
        ctx.build_image("busybox")
        with ctx.define(libsoda.ServerConfig("web", memory_mib=64)) as srv:
            srv.start()
            print(srv.state, srv.exec("uname -r"))

Every failure raises libsoda.SodaError, an OSError whose .errno is the
errno, with the library's .message and, for bad input, .source, .line and
.column; errnos Python has OSError subclasses for raise classes deriving
from those too (FileExistsError, FileNotFoundError, PermissionError...).
The library is found through $SODA_LIBRARY, beside the package, or as
libsoda.so.0. Thread model (as the C library's): one thread uses a context
and its objects at a time.

Submodules: libsoda.network (switches, policies, counters),
libsoda.blackbox (keys, writers, stores, verification, reading),
libsoda.enums, libsoda.errors.
"""

from . import blackbox, enums, errors, network
from ._core import (Context, Event, ExecResult, Nic, Server, ServerConfig, ServerInfo, Share, Shares,
                    check_name, guest_profile_from_name, guest_profile_name, ids_stat_key_name,
                    memory_min,
                    name_max, retention_from_name, retention_name, stat_key_name, state_name,
                    version, version_number)
from .blackbox import Key, Reader, Record, Report, Store, Writer, verify
from .enums import (Direction, EventKind, GuestProfile, IdsResponse, IdsStat, ImageSource,
                    Retention, LogLevel, NetCounter, NetTotal,
                    RecordType, Stat, State, Status)
from .errors import SodaError
from .network import Counters, Network, NetworkInfo, Policy

__all__ = [
    "Context", "Event", "ExecResult", "Nic", "Server", "ServerConfig", "ServerInfo", "Share", "Shares",
    "check_name", "guest_profile_from_name", "guest_profile_name", "memory_min",
    "retention_from_name", "retention_name", "Retention", "ids_stat_key_name", "IdsResponse",
    "IdsStat", "name_max", "stat_key_name", "state_name", "version",
    "version_number", "Key", "Reader", "Record", "Report", "Store", "Writer", "verify",
    "Direction", "EventKind", "GuestProfile", "ImageSource", "LogLevel", "NetCounter", "NetTotal",
    "RecordType", "Stat", "State", "Status", "SodaError", "Counters", "Network",
    "NetworkInfo", "Policy", "blackbox", "enums", "errors", "network",
]
