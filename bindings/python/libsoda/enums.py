# SPDX-License-Identifier: LGPL-2.1-or-later
"""libsoda's constants as IntEnums (the values of include/soda/*.h).

Values the library returns that this module does not know yet (a newer
library) come back as plain ints.
"""

from __future__ import annotations

import enum
from typing import Type, TypeVar, Union

__all__ = [
    "State", "EventKind", "LogLevel", "ImageSource", "Direction", "Stat", "NetCounter",
    "NetTotal", "RecordType", "KeyType", "Durability", "StoreCounter", "Severity", "Basis",
    "FindingKind", "Status", "ReportCounter", "ExportFormat", "ReadFlags", "RecordFlags",
    "GuestProfile", "Retention", "IdsResponse", "IdsStat",
]


class State(enum.IntEnum):
    """A server's state (SODA_STATE_*)."""
    SHUTOFF = 1
    STARTING = 2
    RUNNING = 3
    PAUSED = 4
    STOPPING = 5
    CRASHED = 6

    def __str__(self) -> str:
        return self.name.lower()


class GuestProfile(enum.IntEnum):
    """SODA_GUEST_PROFILE_*: what root in the guest may do to its kernel."""
    LOCKED = 0
    OPEN = 1


class Retention(enum.IntEnum):
    """SODA_BLACKBOX_RETENTION_*: what a server's blackbox store does at its quota."""
    STOP = 0
    DROP_OLDEST = 1


class EventKind(enum.IntEnum):
    """SODA_EVENT_*."""
    STATE = 1
    DEFINED = 2
    UNDEFINED = 3
    BLACKBOX_QUOTA = 4   # the blackbox store passed 80 or 95 % of its quota (reason)
    BLACKBOX_ANCHOR = 5  # the blackbox store's committed head moved (reason: the anchor)


class IdsResponse(enum.IntEnum):
    """SODA_IDS_RESPONSE_*: the automatic response to an alert."""
    NONE = 0
    FREEZE = 1
    DUMP = 2  # disk and memory into STATE/dumps; the server runs on


class IdsStat(enum.IntEnum):
    """SODA_IDS_STAT_*: the port IDS's counters."""
    PACKETS = 1
    BYTES = 2
    DROPS = 3
    ALERTS = 4
    ALERTS_LOST = 5
    RULES = 6
    RELOADS = 7
    FLOWS = 8
    SEALED = 9
    LANDLORD = 10
    RESPONSES = 11
    PID = 12
    BYPASSED_FLOWS = 13
    BYPASSED_PACKETS = 14
    BYPASSED_BYTES = 15


class LogLevel(enum.IntEnum):
    """SODA_LOG_* (syslog numbering)."""
    ERR = 3
    WARNING = 4
    NOTICE = 5
    INFO = 6
    DEBUG = 7


class ImageSource(enum.IntEnum):
    """SODA_IMAGE_SOURCE_*."""
    BUSYBOX = 1
    DIRECTORY = 2
    TARBALL = 3
    EXT4 = 4


class Direction(enum.IntEnum):
    """SODA_DIRECTION_*: bandwidth, from the guest's point of view."""
    OUT = 1
    IN = 2


class Stat(enum.IntEnum):
    """SODA_STAT_*: keys of a server's statistics."""
    CPU_USEC = 1
    CPU_THROTTLED_USEC = 2
    CPU_THROTTLED_PERIODS = 3
    MEMORY_BYTES = 4
    MEMORY_PEAK_BYTES = 5
    MEMORY_MAX_BYTES = 6
    MEMORY_LIMIT_HITS = 7
    MEMORY_OOM_KILLS = 8
    PIDS = 9
    PIDS_MAX = 10
    PIDS_LIMIT_HITS = 11
    NET_OUT_BYTES = 12
    NET_OUT_PACKETS = 13
    NET_OUT_DROPS = 14
    NET_IN_BYTES = 15
    NET_IN_PACKETS = 16
    NET_IN_DROPS = 17


class NetCounter(enum.IntEnum):
    """SODA_NET_*: a server's counters on a network."""
    ACCEPTED = 0
    DROP_MAC = 1
    DROP_IP = 2
    DROP_ARP = 3
    DROP_ND = 4
    DROP_OTHER = 5
    DROP_HOST = 6
    DROP_POLICY_OUT = 7
    DROP_POLICY_IN = 8
    DROPPED = 9
    DROP_FLOOD = 10


class NetTotal(enum.IntEnum):
    """SODA_NET_TOTAL_*: a network's totals."""
    DEFAULT = 0
    INVALID = 1
    HOST = 2
    UPLINK = 3


class RecordType(enum.IntEnum):
    """SODA_BLACKBOX_* record types."""
    CONSOLE_OUT = 1
    CONSOLE_IN = 2
    SYSLOG = 3
    KERNEL = 4
    EXEC = 5
    AUDIT = 6
    IDS_ALERT = 7
    LIFECYCLE = 8
    SNAPSHOT = 9
    HEARTBEAT = 10
    LOSS = 11
    END = 12
    CONSOLE_SIZE = 13
    TEXT = 14


class KeyType(enum.IntEnum):
    """SODA_BLACKBOX_KEY_*."""
    TENANT = 1
    FACTORY = 2


class Durability(enum.IntEnum):
    """SODA_BLACKBOX_DURABILITY_*."""
    GROUP = 1
    FRAME = 2
    WRITE = 3


class StoreCounter(enum.IntEnum):
    """SODA_BLACKBOX_STAT_*: a store's counters."""
    FRAMES = 1
    BYTES = 2
    DROPPED_FRAMES = 3
    DROPPED_BYTES = 4
    GARBAGE_BYTES = 5
    REJECTED_FRAMES = 6
    COMMITS = 7
    SEGMENTS = 8
    STORE_BYTES = 9
    FOREIGN_STREAMS = 10
    QUOTA_BYTES = 11


class Severity(enum.IntEnum):
    """SODA_BLACKBOX_SEVERITY_*."""
    INFO = 0
    WARNING = 1
    LOSS = 2
    ERROR = 3


class Basis(enum.IntEnum):
    """SODA_BLACKBOX_BASIS_*: how a finding was found."""
    STRUCTURE = 1
    CRYPTO = 2


class FindingKind(enum.IntEnum):
    """SODA_BLACKBOX_F_*."""
    BAD_FILE = 1
    CORRUPT_FRAME = 2
    GARBAGE = 3
    FOREIGN_SEGMENT = 4
    SEGMENT_MISSING = 5
    CHAIN_BREAK = 6
    UNKNOWN_STREAM = 7
    SEQ_GAP = 8
    SEQ_REORDER = 9
    SEQ_DUPLICATE = 10
    PROTOCOL = 11
    TRUNCATED = 12
    TORN_TAIL = 13
    DECLARED_LOSS = 14
    NO_END = 15
    STALE = 16
    ANCHOR = 17
    DECRYPT_FAILED = 18
    BAD_RECORD = 19
    WRONG_KEY = 20
    FOREIGN_STREAM = 21
    UNREADABLE = 22
    RECOVERED = 23
    CLOCK = 24


class Status(enum.IntEnum):
    """SODA_BLACKBOX_INTACT / _INCOMPLETE / _DAMAGED: a report's verdict."""
    INTACT = 0
    INCOMPLETE = 1
    DAMAGED = 2


class ReportCounter(enum.IntEnum):
    """SODA_BLACKBOX_REPORT_*."""
    FRAMES = 1
    BYTES = 2
    STREAMS = 3
    SEGMENTS = 4
    RECORDS = 5
    DROPPED = 6


class ExportFormat(enum.IntEnum):
    """SODA_BLACKBOX_EXPORT_*."""
    JSONL = 1
    ASCIICAST = 2


class ReadFlags(enum.IntFlag):
    """SODA_BLACKBOX_READ_*: how a reader reads."""
    FOLLOW = 1 << 0
    STRICT = 1 << 1
    PARALLEL = 1 << 2


class RecordFlags(enum.IntFlag):
    """SODA_BLACKBOX_RECORD_F_*: a record's flags."""
    CONTINUED = 0x01
    FOREIGN = 0x100
    TIME_FAR = 0x200
    TIME_BACK = 0x400


E = TypeVar("E", bound=enum.IntEnum)


def as_enum(cls: Type[E], value: int) -> Union[E, int]:
    """@value as a member of @cls, or the int itself if @cls has none."""
    try:
        return cls(value)
    except ValueError:
        return value
