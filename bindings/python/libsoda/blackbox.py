# SPDX-License-Identifier: LGPL-2.1-or-later
"""The blackbox: tenant keys, writers, the host store, keyless
verification, the tenant's reader and exports (include/soda/blackbox.h,
docs/blackbox-format.md).

    key = Key.generate()                       # the tenant's, secret included
    report = verify(srv.blackbox_dir)          # anyone, no key
    with Reader(srv.blackbox_dir, key) as r:   # the tenant
        for rec in r:
            print(rec.type, rec.data)
        print(r.report.status)
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable, Iterator, List, Optional, Sequence, Tuple, Union

from ._ffi import ffi, lib, take_str, to_c, to_opt, to_str
from .enums import (Basis, Durability, ExportFormat, FindingKind, KeyType, ReadFlags,
                    RecordFlags, RecordType, ReportCounter, Severity, Status, StoreCounter,
                    as_enum)
from .errors import SodaError, call, check_rc, make_error

__all__ = ["Key", "Writer", "Store", "Finding", "Report", "Reader", "Record", "verify",
           "read_anchor", "type_name", "type_from_name", "finding_kind_name"]

PathLike = Union[str, bytes, "os.PathLike[str]"]

_KEY_NO_CLOBBER = 1 << 0
_STORE_CHAIN_V1 = 1 << 0
_STORE_PARALLEL = 1 << 1
_STORE_DROP_OLDEST = 1 << 2
_FEED_EOF = 1 << 0
_VERIFY_PARALLEL = 1 << 0
_RECORD_F_CONTINUED = 0x01
_PUBLIC_KEY_BYTES = 32
_SIGNATURE_BYTES = 64
_NO_SEQ = 2**64 - 1


def type_name(t: int) -> Optional[str]:
    """A record type's name ("console-out"...), or None."""
    return to_opt(lib.soda_blackbox_type_name(int(t)))


def type_from_name(name: str) -> Union[RecordType, int]:
    """The record type of @name; ValueError for an unknown name."""
    t = lib.soda_blackbox_type_from_name(to_c(name))
    if t == 0:
        raise ValueError("no record type is called %r" % name)
    return as_enum(RecordType, t)


def finding_kind_name(kind: int) -> Optional[str]:
    """A finding kind's name ("seq-gap"...), or None."""
    return to_opt(lib.soda_blackbox_finding_kind_name(int(kind)))


# ---- keys ----

class Key:
    """A tenant or factory key: public only, or with its secret (kept in
    locked memory by the library, wiped when the key goes)."""

    def __init__(self, p: Any) -> None:
        self._p = ffi.gc(p, lib.soda_blackbox_key_free)

    @classmethod
    def generate(cls, type: KeyType = KeyType.TENANT) -> "Key":
        p = ffi.new("soda_blackbox_key **")
        call(lib.soda_blackbox_key_generate, p, int(type), 0)
        return cls(p[0])

    @classmethod
    def load(cls, path: PathLike) -> "Key":
        """Reads a key file (a secret one must be private to its owner:
        PermissionError otherwise)."""
        p = ffi.new("soda_blackbox_key **")
        call(lib.soda_blackbox_key_load, p, to_c(path), 0)
        return cls(p[0])

    @classmethod
    def parse(cls, text: Union[str, bytes], source: Optional[str] = None) -> "Key":
        data = text.encode() if isinstance(text, str) else bytes(text)
        p = ffi.new("soda_blackbox_key **")
        call(lib.soda_blackbox_key_parse, p, data, len(data), to_c(source), 0)
        return cls(p[0])

    @classmethod
    def from_public(cls, box_public: Optional[bytes], sign_public: Optional[bytes] = None,
                    type: KeyType = KeyType.TENANT) -> "Key":
        for k in (box_public, sign_public):
            if k is not None and len(k) != _PUBLIC_KEY_BYTES:
                raise ValueError("a public key is %d bytes" % _PUBLIC_KEY_BYTES)
        p = ffi.new("soda_blackbox_key **")
        call(lib.soda_blackbox_key_from_public, p, int(type),
             bytes(box_public) if box_public is not None else ffi.NULL,
             bytes(sign_public) if sign_public is not None else ffi.NULL, 0)
        return cls(p[0])

    def save_secret(self, path: PathLike, no_clobber: bool = False) -> None:
        call(lib.soda_blackbox_key_save_secret, self._p, to_c(path),
             _KEY_NO_CLOBBER if no_clobber else 0)

    def save_public(self, path: PathLike, no_clobber: bool = False) -> None:
        call(lib.soda_blackbox_key_save_public, self._p, to_c(path),
             _KEY_NO_CLOBBER if no_clobber else 0)

    def format_public(self) -> str:
        """The public key file's text."""
        out = ffi.new("char **")
        call(lib.soda_blackbox_key_format_public, out, self._p, 0)
        return take_str(out[0])

    def public(self) -> "Key":
        """A public-only copy (what the host may hold)."""
        p = ffi.new("soda_blackbox_key **")
        call(lib.soda_blackbox_key_get_public, p, self._p)
        return Key(p[0])

    @property
    def type(self) -> Union[KeyType, int]:
        return as_enum(KeyType, lib.soda_blackbox_key_get_type(self._p))

    @property
    def has_secret(self) -> bool:
        return bool(lib.soda_blackbox_key_has_secret(self._p))

    @property
    def id(self) -> str:
        """16 hex digits; streams name the id of the key they are sealed to."""
        return to_str(lib.soda_blackbox_key_get_id(self._p))

    @property
    def box_public(self) -> bytes:
        """The 32-byte X25519 public key (tenant keys)."""
        out = ffi.new("uint8_t[]", _PUBLIC_KEY_BYTES)
        check_rc(lib.soda_blackbox_key_get_box_public(self._p, out, _PUBLIC_KEY_BYTES),
                 "box public key")
        return bytes(ffi.buffer(out, _PUBLIC_KEY_BYTES))

    def sign(self, data: bytes) -> bytes:
        """The 64-byte Ed25519 signature of @data (needs the secret)."""
        sig = ffi.new("uint8_t[]", _SIGNATURE_BYTES)
        call(lib.soda_blackbox_key_sign, sig, _SIGNATURE_BYTES, self._p, bytes(data), len(data),
             0)
        return bytes(ffi.buffer(sig, _SIGNATURE_BYTES))

    def verify(self, data: bytes, signature: bytes) -> bool:
        """True if @signature is this key's signature of @data."""
        try:
            call(lib.soda_blackbox_key_verify, self._p, bytes(data), len(data),
                 bytes(signature), len(signature), 0)
        except SodaError as e:
            if e.errno == 74:  # EBADMSG
                return False
            raise
        return True

    def __repr__(self) -> str:
        return "<Key %s %s%s>" % (self.id, self.type, " secret" if self.has_secret else "")


# ---- writers ----

class Writer:
    """Seals records into frames of a new stream and gives each frame to
    @output (a callable taking bytes, or a file-like object with write()).
    Only the key's public part is used."""

    _p: Any = None

    def __init__(self, key: Key, output: Any, *, label: Optional[str] = None,
                 heartbeat_ms: int = 0, rekey_ms: int = 0, rekey_bytes: int = 0) -> None:
        write = output if callable(output) else output.write
        self._error: Optional[BaseException] = None

        def out(frame: Any, n: int, userdata: Any) -> int:
            try:
                write(bytes(ffi.buffer(frame, n)))
                return 0
            except OSError as e:
                self._error = e
                return -(e.errno or 5)
            except BaseException as e:  # nothing may unwind through C
                self._error = e
                return -5

        self._cb = ffi.callback("soda_blackbox_output_fn", out)
        opts = ffi.new("soda_blackbox_writer_options *")
        check_rc(lib.soda_blackbox_writer_options_init(opts, 1), "options")
        opts.heartbeat_ms = heartbeat_ms
        opts.rekey_ms = rekey_ms
        opts.rekey_bytes = rekey_bytes
        keep = ffi.new("char[]", to_c(label)) if label is not None else ffi.NULL
        opts.label = keep
        p = ffi.new("soda_blackbox_writer **")
        call(lib.soda_blackbox_writer_new, p, key._p, opts, self._cb, ffi.NULL, ffi.NULL, 0)
        self._p: Any = p[0]

    def _ptr(self) -> Any:
        if self._p is None:
            raise ValueError("the writer is closed")
        return self._p

    def _raise_output(self) -> None:
        if self._error is not None:
            e, self._error = self._error, None
            raise e

    def append(self, type: RecordType, data: Union[bytes, str], aux: int = 0,
               realtime_usec: int = 0, mono_usec: int = 0) -> None:
        """Seals one record (0 times: now)."""
        b = data.encode() if isinstance(data, str) else bytes(data)
        try:
            call(lib.soda_blackbox_writer_append, self._ptr(), int(type), int(aux), b, len(b),
                 int(realtime_usec), int(mono_usec), 0)
        finally:
            self._raise_output()

    def tick(self) -> int:
        """Sends a heartbeat when idle; returns when to call again
        (CLOCK_MONOTONIC microseconds)."""
        nxt = ffi.new("uint64_t *")
        call(lib.soda_blackbox_writer_tick, self._ptr(), nxt, 0)
        return int(nxt[0])

    def end(self, reason: int = 0) -> None:
        """Ends the stream (its final record)."""
        call(lib.soda_blackbox_writer_end, self._ptr(), int(reason), 0)

    @property
    def stream_id(self) -> str:
        return to_str(lib.soda_blackbox_writer_get_stream_id(self._ptr()))

    def close(self) -> None:
        """Wipes the keys and frees the writer (without ending the stream)."""
        if self._p is not None:
            lib.soda_blackbox_writer_free(self._p)
            self._p = None

    def __enter__(self) -> "Writer":
        return self

    def __exit__(self, *exc: Any) -> None:
        if exc[0] is None and self._p is not None:
            self.end()
        self.close()

    def __del__(self) -> None:
        self.close()


# ---- the host store ----

class Store:
    """The host's append-only store of a blackbox, opened for writing."""

    _p: Any = None

    def __init__(self, directory: PathLike, tenant_key: Optional[Key] = None, *,
                 durability: Durability = Durability.GROUP, group_ms: int = 0,
                 checkpoint_ms: int = 0, group_bytes: int = 0, segment_bytes: int = 0,
                 quota_bytes: int = 0, retention_bytes: int = 0, retention_seconds: int = 0,
                 label: Optional[str] = None, chain_v1: bool = False,
                 parallel: bool = False, drop_oldest: bool = False) -> None:
        opts = ffi.new("soda_blackbox_store_options *")
        check_rc(lib.soda_blackbox_store_options_init(opts, 1), "options")
        opts.durability = int(durability)
        opts.group_ms = group_ms
        opts.checkpoint_ms = checkpoint_ms
        opts.group_bytes = group_bytes
        opts.segment_bytes = segment_bytes
        opts.quota_bytes = quota_bytes
        opts.retention_bytes = retention_bytes
        opts.retention_seconds = retention_seconds
        keep = ffi.new("char[]", to_c(label)) if label is not None else ffi.NULL
        opts.label = keep
        # drop_oldest: at the quota, delete whole oldest segments (with a
        # notice the verifier checks) instead of refusing new data.
        flags = (_STORE_CHAIN_V1 if chain_v1 else 0) | (_STORE_PARALLEL if parallel else 0) | \
            (_STORE_DROP_OLDEST if drop_oldest else 0)
        p = ffi.new("soda_blackbox_store **")
        call(lib.soda_blackbox_store_open, p, to_c(directory),
             tenant_key._p if tenant_key is not None else ffi.NULL, opts, flags)
        self._p: Any = p[0]

    def _ptr(self) -> Any:
        if self._p is None:
            raise ValueError("the store is closed")
        return self._p

    def feed(self, data: bytes, eof: bool = False) -> None:
        """Takes raw bytes of the guest's line (frames cut anywhere)."""
        call(lib.soda_blackbox_store_feed, self._ptr(), bytes(data), len(data),
             _FEED_EOF if eof else 0)

    write = feed  # a Writer may write straight into a Store

    def host_event(self, type: RecordType, data: Union[bytes, str], aux: int = 0) -> None:
        """Seals a host record to the tenant's public key."""
        b = data.encode() if isinstance(data, str) else bytes(data)
        call(lib.soda_blackbox_store_host_event, self._ptr(), int(type), int(aux), b, len(b), 0)

    def deadline(self) -> int:
        """When process() must run next (CLOCK_MONOTONIC microseconds; 2**64-1: never)."""
        out = ffi.new("uint64_t *")
        check_rc(lib.soda_blackbox_store_get_deadline(self._ptr(), out), "deadline")
        return int(out[0])

    def process(self) -> None:
        call(lib.soda_blackbox_store_process, self._ptr(), 0)

    def flush(self) -> None:
        call(lib.soda_blackbox_store_flush, self._ptr(), 0)

    def counter(self, counter: StoreCounter) -> int:
        out = ffi.new("uint64_t *")
        check_rc(lib.soda_blackbox_store_get_counter(self._ptr(), int(counter), out), "counter")
        return int(out[0])

    @property
    def anchor(self) -> str:
        """The head as "SEGMENT:OFFSET:DIGEST", for a later verify()."""
        out = ffi.new("char **")
        call(lib.soda_blackbox_store_get_anchor, self._ptr(), out)
        return take_str(out[0])

    def close(self) -> None:
        """Ends the host stream, syncs, wipes keys and frees (always)."""
        if self._p is not None:
            p, self._p = self._p, None
            call(lib.soda_blackbox_store_close, p, 0)

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except SodaError:
            pass


# ---- findings and reports ----

@dataclasses.dataclass(frozen=True)
class Finding:
    kind: Union[FindingKind, int]
    severity: Union[Severity, int]
    basis: Union[Basis, int]
    message: str
    segment: int
    offset: int
    entry: Optional[int]
    stream: Optional[str]
    seq: Optional[int]
    json: str

    @classmethod
    def _from(cls, f: Any) -> "Finding":
        out = ffi.new("char **")
        call(lib.soda_blackbox_finding_to_json, out, f, 0)
        entry = int(lib.soda_blackbox_finding_get_entry(f))
        seq = int(lib.soda_blackbox_finding_get_seq(f))
        return cls(as_enum(FindingKind, lib.soda_blackbox_finding_get_kind(f)),
                   as_enum(Severity, lib.soda_blackbox_finding_get_severity(f)),
                   as_enum(Basis, lib.soda_blackbox_finding_get_basis(f)),
                   to_str(lib.soda_blackbox_finding_get_message(f)) or "",
                   int(lib.soda_blackbox_finding_get_segment(f)),
                   int(lib.soda_blackbox_finding_get_offset(f)),
                   None if entry == _NO_SEQ else entry,
                   to_opt(lib.soda_blackbox_finding_get_stream(f)),
                   None if seq == _NO_SEQ else seq,
                   take_str(out[0]))

    @property
    def kind_name(self) -> Optional[str]:
        return finding_kind_name(self.kind)

    def __str__(self) -> str:
        return "%s: %s" % (self.kind_name, self.message)


@dataclasses.dataclass(frozen=True)
class Report:
    """What a verification or a reading found."""
    status: Union[Status, int]
    findings: Tuple[Finding, ...]
    counters: Tuple[Tuple[Union[ReportCounter, int], int], ...]
    anchor: Optional[str]
    first_error: Optional[Finding]

    @classmethod
    def _from(cls, r: Any) -> "Report":
        findings = []
        for i in range(lib.soda_blackbox_report_get_finding_count(r)):
            findings.append(Finding._from(lib.soda_blackbox_report_get_finding(r, i)))
        first = lib.soda_blackbox_report_get_first(r, int(Severity.ERROR))
        return cls(as_enum(Status, lib.soda_blackbox_report_get_status(r)), tuple(findings),
                   tuple((c, int(lib.soda_blackbox_report_get_counter(r, int(c))))
                         for c in ReportCounter),
                   to_opt(lib.soda_blackbox_report_get_anchor(r)),
                   Finding._from(first) if first != ffi.NULL else None)

    def counter(self, counter: ReportCounter) -> int:
        return dict(self.counters)[counter]

    @property
    def intact(self) -> bool:
        return self.status == Status.INTACT


def verify(directory: PathLike, anchors: Sequence[str] = (), parallel: bool = False) -> Report:
    """Checks a store without any key. A damaged store is not an error: it
    is in the report. FileNotFoundError if @directory does not exist."""
    opts = ffi.new("soda_blackbox_verify_options *")
    check_rc(lib.soda_blackbox_verify_options_init(opts, 1), "options")
    keep = [ffi.new("char[]", to_c(a)) for a in anchors]
    arr = ffi.new("const char *[]", keep + [ffi.NULL])
    opts.anchors = arr
    opts.n_anchors = len(keep)
    p = ffi.new("soda_blackbox_report **")
    call(lib.soda_blackbox_verify, p, to_c(directory), opts,
         _VERIFY_PARALLEL if parallel else 0)
    try:
        return Report._from(p[0])
    finally:
        lib.soda_blackbox_report_free(p[0])


def read_anchor(directory: PathLike) -> str:
    """The anchor of what a store's head says is committed, read without
    the store's lock (while a writer has it open): kept off the host, it
    lets a later verify() prove nothing up to it was cut or rewritten."""
    out = ffi.new("char **")
    call(lib.soda_blackbox_store_read_anchor, out, to_c(directory), 0)
    return take_str(out[0])


# ---- the tenant's reader ----

@dataclasses.dataclass(frozen=True)
class Record:
    """One decrypted record."""
    type: Union[RecordType, int]
    aux: int
    flags: int
    realtime_usec: int
    monotonic_usec: int
    data: bytes
    stream: str
    origin: str
    label: str
    seq: int
    segment: int
    offset: int
    json: str
    received_usec: int  # the host's time of receipt (0: unknown; libsoda 0.2)

    @property
    def record_flags(self) -> RecordFlags:
        return RecordFlags(self.flags)

    @property
    def continued(self) -> bool:
        """The body goes on in the stream's next record."""
        return bool(self.flags & _RECORD_F_CONTINUED)

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", "replace")

    @property
    def type_name(self) -> Optional[str]:
        return type_name(self.type)


class Reader:
    """Reads a store with the tenant's secret key: an iterator of Records.
    With follow=True, iteration waits for new records (see next_record())."""

    _p: Any = None

    def __init__(self, directory: PathLike, key: Key, *, types: Sequence[int] = (),
                 since_usec: int = 0, until_usec: int = 0, stream: Optional[str] = None,
                 flags: ReadFlags = ReadFlags(0), follow: bool = False,
                 strict: bool = False, parallel: bool = False) -> None:
        opts = ffi.new("soda_blackbox_reader_options *")
        check_rc(lib.soda_blackbox_reader_options_init(opts, 1), "options")
        mask = 0
        for t in types:
            mask |= 1 << int(t)
        opts.types = mask
        opts.since_usec = since_usec
        opts.until_usec = until_usec
        keep = ffi.new("char[]", to_c(stream)) if stream is not None else ffi.NULL
        opts.stream = keep
        flags = ReadFlags(flags)
        if follow:
            flags |= ReadFlags.FOLLOW
        if strict:
            flags |= ReadFlags.STRICT
        if parallel:
            flags |= ReadFlags.PARALLEL
        self.flags = flags
        p = ffi.new("soda_blackbox_reader **")
        call(lib.soda_blackbox_reader_open, p, to_c(directory), key._p, opts, int(flags))
        self._p: Any = p[0]

    def _ptr(self) -> Any:
        if self._p is None:
            raise ValueError("the reader is closed")
        return self._p

    def next_record(self) -> Optional[Record]:
        """The next record; None at the end of the store. In follow mode,
        BlockingIOError (EAGAIN) when there is nothing new yet."""
        out = ffi.new("const soda_blackbox_record **")
        r = call(lib.soda_blackbox_reader_next, self._ptr(), out, 0)
        if r == 0:
            return None
        rec = out[0]
        n = ffi.new("size_t *")
        data = lib.soda_blackbox_record_get_data(rec, n)
        js = ffi.new("char **")
        call(lib.soda_blackbox_record_to_json, js, rec, 0)
        return Record(as_enum(RecordType, lib.soda_blackbox_record_get_type(rec)),
                      int(lib.soda_blackbox_record_get_aux(rec)),
                      int(lib.soda_blackbox_record_get_flags(rec)),
                      int(lib.soda_blackbox_record_get_realtime(rec)),
                      int(lib.soda_blackbox_record_get_monotonic(rec)),
                      bytes(ffi.buffer(data, n[0])) if n[0] else b"",
                      to_str(lib.soda_blackbox_record_get_stream(rec)),
                      to_str(lib.soda_blackbox_record_get_origin(rec)),
                      to_str(lib.soda_blackbox_record_get_label(rec)) or "",
                      int(lib.soda_blackbox_record_get_seq(rec)),
                      int(lib.soda_blackbox_record_get_segment(rec)),
                      int(lib.soda_blackbox_record_get_offset(rec)),
                      take_str(js[0]),
                      int(lib.soda_blackbox_record_get_received(rec)))

    def __iter__(self) -> Iterator[Record]:
        return self

    def __next__(self) -> Record:
        import time
        while True:
            try:
                rec = self.next_record()
            except BlockingIOError:
                time.sleep(0.05)
                continue
            if rec is None:
                raise StopIteration
            return rec

    @property
    def report(self) -> Report:
        """The findings so far (final once the end was reached)."""
        return Report._from(lib.soda_blackbox_reader_get_report(self._ptr()))

    def export(self, fileobj: Any, format: ExportFormat = ExportFormat.JSONL, *,
               session: Optional[int] = None, with_input: bool = False,
               title: Optional[str] = None) -> None:
        """Reads to the end and writes the records to @fileobj (a file
        descriptor or an object with fileno()) as JSON lines or asciicast v2."""
        fd = fileobj if isinstance(fileobj, int) else fileobj.fileno()
        if hasattr(fileobj, "flush"):
            fileobj.flush()
        opts = ffi.new("soda_blackbox_export_options *")
        check_rc(lib.soda_blackbox_export_options_init(opts, 1), "options")
        opts.format = int(format)
        opts.session = session or 0
        opts.has_session = 1 if session is not None else 0
        opts.with_input = 1 if with_input else 0
        keep = ffi.new("char[]", to_c(title)) if title is not None else ffi.NULL
        opts.title = keep
        call(lib.soda_blackbox_export, self._ptr(), fd, opts, 0)

    def close(self) -> None:
        if self._p is not None:
            lib.soda_blackbox_reader_close(self._p)
            self._p = None

    def __enter__(self) -> "Reader":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()
