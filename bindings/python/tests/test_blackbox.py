# SPDX-License-Identifier: LGPL-2.1-or-later
"""The blackbox from Python: keys, a writer feeding a store, keyless
verification (intact, then tampered with), the tenant's reader, exports."""

import errno
import json
import os

import pytest

from libsoda import SodaError
from libsoda.blackbox import (Key, Reader, Store, Writer, finding_kind_name, type_from_name,
                              type_name, verify)
from libsoda.enums import (Basis, ExportFormat, FindingKind, KeyType, RecordType,
                           ReportCounter, Severity, Status, StoreCounter)


@pytest.fixture
def key():
    return Key.generate()


def make_store(path, key, lines=("hello", "world")):
    """A store with one guest stream (the lines as console output) and the
    host stream (one lifecycle record); returns the store's anchor."""
    with Store(path, key.public(), label="web") as store:
        with Writer(key.public(), store, label="web") as w:
            for i, line in enumerate(lines):
                w.append(RecordType.CONSOLE_OUT, line + "\n", aux=1)
            sid = w.stream_id
            assert len(sid) == 32 and w.tick() > 0
        store.host_event(RecordType.LIFECYCLE, "started")
        store.flush()
        assert store.counter(StoreCounter.FRAMES) >= len(lines) + 2
        assert store.deadline() > 0
        store.process()
        anchor = store.anchor
        # Read without the lock, while the store is open: the same head.
        from libsoda.blackbox import read_anchor
        assert read_anchor(path) == anchor
    return anchor, sid


def test_names():
    assert type_name(RecordType.CONSOLE_OUT) == "console-out"
    assert type_from_name("syslog") == RecordType.SYSLOG
    with pytest.raises(ValueError):
        type_from_name("nothing")
    assert finding_kind_name(FindingKind.SEQ_GAP) == "seq-gap"
    assert type_name(999) is None


def test_keys(tmp_path, key):
    assert key.type == KeyType.TENANT and key.has_secret and len(key.id) == 16
    pub = key.public()
    assert not pub.has_secret and pub.id == key.id and pub.box_public == key.box_public
    key.save_secret(tmp_path / "k.secret")
    key.save_public(tmp_path / "k.pub")
    assert os.stat(tmp_path / "k.secret").st_mode & 0o777 == 0o600
    with pytest.raises(FileExistsError):
        key.save_public(tmp_path / "k.pub", no_clobber=True)
    assert Key.load(tmp_path / "k.secret").has_secret
    assert Key.load(tmp_path / "k.pub").id == key.id
    assert Key.parse(key.format_public()).id == key.id
    # A secret key file others may read is refused: PermissionError.
    os.chmod(tmp_path / "k.secret", 0o644)
    with pytest.raises(PermissionError) as e:
        Key.load(tmp_path / "k.secret")
    assert e.value.errno == errno.EACCES
    with pytest.raises(FileNotFoundError):
        Key.load(tmp_path / "none")
    with pytest.raises(SodaError) as e:
        Key.parse("not a key\n", source="bad.pub")
    assert e.value.errno in (errno.EINVAL, errno.EBADMSG) and e.value.line >= 1 and e.value.source == "bad.pub"
    with pytest.raises(SodaError):
        pub.save_secret(tmp_path / "nope")
    sig = key.sign(b"data")
    assert len(sig) == 64 and key.verify(b"data", sig) and pub.verify(b"data", sig)
    assert not pub.verify(b"datA", sig)
    with pytest.raises(SodaError):
        pub.sign(b"data")
    k2 = Key.from_public(key.box_public)
    assert k2.box_public == key.box_public and not k2.has_secret
    with pytest.raises(ValueError):
        Key.from_public(b"short")
    assert Key.generate(KeyType.FACTORY).type == KeyType.FACTORY


def test_store_refuses_a_secret_key(tmp_path, key):
    with pytest.raises(SodaError) as e:
        Store(tmp_path / "s", key)
    assert e.value.errno == errno.EINVAL


def test_write_verify_read(tmp_path, key):
    from libsoda.blackbox import read_anchor
    with pytest.raises(FileNotFoundError):
        read_anchor(tmp_path / "s")
    anchor, sid = make_store(tmp_path / "s", key)
    final = read_anchor(tmp_path / "s")  # what the close committed, after the anchor
    assert final != anchor and verify(tmp_path / "s", anchors=[anchor, final]).intact
    report = verify(tmp_path / "s", anchors=[anchor], parallel=True)
    assert report.status == Status.INTACT and report.intact, [str(f) for f in report.findings]
    assert report.first_error is None
    assert report.counter(ReportCounter.FRAMES) >= 4 and report.anchor
    with Reader(tmp_path / "s", key) as r:
        records = list(r)
        rep = r.report
    texts = [rec.text for rec in records if rec.type == RecordType.CONSOLE_OUT]
    assert texts == ["hello\n", "world\n"]
    out = [rec for rec in records if rec.type == RecordType.CONSOLE_OUT]
    assert out[0].stream == sid and out[0].origin == "guest" and out[0].label == "web"
    assert out[0].aux == 1 and out[1].seq > out[0].seq and out[0].realtime_usec > 0
    assert not out[0].continued and out[0].received_usec >= 0
    assert json.loads(out[0].json)["type"] == "console-out"
    host = [rec for rec in records if rec.type == RecordType.LIFECYCLE]
    assert host and host[0].origin == "host" and host[0].data == b"started"
    assert rep.status == Status.INTACT and rep.counter(ReportCounter.RECORDS) >= 3
    # Only some types.
    with Reader(tmp_path / "s", key, types=[RecordType.LIFECYCLE]) as r:
        assert {rec.type for rec in r} == {RecordType.LIFECYCLE}
    # The reader needs the secret.
    with pytest.raises(SodaError) as e:
        Reader(tmp_path / "s", key.public())
    assert e.value.errno == errno.EINVAL
    with pytest.raises(FileNotFoundError):
        verify(tmp_path / "none")


def test_tampering_is_found(tmp_path, key):
    make_store(tmp_path / "s", key, lines=["x" * 200] * 5)
    segs = sorted(f for f in os.listdir(tmp_path / "s") if f.startswith("seg"))
    assert segs, os.listdir(tmp_path / "s")
    path = tmp_path / "s" / segs[0]
    data = bytearray(path.read_bytes())
    i = data.find(b"x" * 8)
    if i < 0:  # the payload is sealed: flip a byte in the middle instead
        i = len(data) // 2
    data[i] ^= 0x01
    path.write_bytes(bytes(data))
    report = verify(tmp_path / "s")
    assert report.status == Status.DAMAGED
    assert report.first_error is not None and report.first_error.severity == Severity.ERROR
    assert report.first_error.basis in (Basis.STRUCTURE, Basis.CRYPTO)
    assert report.first_error.segment >= 1
    assert json.loads(report.first_error.json)
    # The strict reader stops at it.
    with Reader(tmp_path / "s", key, strict=True) as r:
        with pytest.raises(SodaError) as e:
            list(r)
        assert e.value.errno == errno.EBADMSG


def test_follow_mode_says_eagain(tmp_path, key):
    make_store(tmp_path / "s", key)
    with Reader(tmp_path / "s", key, follow=True) as r:
        n = 0
        while True:
            try:
                if r.next_record() is None:
                    break
                n += 1
            except BlockingIOError as e:
                assert e.errno == errno.EAGAIN
                break
        assert n >= 3


def test_export(tmp_path, key):
    make_store(tmp_path / "s", key)
    with Reader(tmp_path / "s", key) as r, open(tmp_path / "out.jsonl", "w") as f:
        r.export(f)
    lines = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert any(x.get("type") == "console-out" for x in lines)
    with Reader(tmp_path / "s", key) as r, open(tmp_path / "out.cast", "w") as f:
        r.export(f, ExportFormat.ASCIICAST, title="web")
    cast = (tmp_path / "out.cast").read_text().splitlines()
    header = json.loads(cast[0])
    assert header["version"] == 2 and header.get("title") == "web"
    assert any("hello" in x for x in cast[1:])
    with Reader(tmp_path / "s", key, follow=True) as r:
        with pytest.raises(SodaError) as e:
            r.export(os.open(os.devnull, os.O_WRONLY))
        assert e.value.errno == errno.EINVAL


def test_writer_output_errors_come_back(key):
    def broken(frame):
        raise OSError(errno.ENOSPC, "full")
    w = Writer(key.public(), broken)
    with pytest.raises(OSError) as e:
        w.append(RecordType.TEXT, "x")
    assert e.value.errno == errno.ENOSPC
    w.close()
    with pytest.raises(ValueError):
        w.append(RecordType.TEXT, "x")
    frames = []
    with Writer(key.public(), frames.append, heartbeat_ms=1000) as w:
        w.append(RecordType.TEXT, "y")
        with pytest.raises(SodaError):
            w.append(RecordType.HEARTBEAT, "")
    assert len(frames) >= 2


@pytest.mark.parametrize("drop_oldest", [False, True])
def test_quota_policies(tmp_path, key, drop_oldest):
    """A writer floods a store past its quota: by default the store keeps
    the old records and refuses the new (counted); with drop_oldest it
    deletes the oldest segments and stays verifiable."""
    quota = 1 << 20
    chunk = os.urandom(60000)
    with Store(tmp_path / "s", key.public(), quota_bytes=quota, drop_oldest=drop_oldest) as store:
        with Writer(key.public(), store) as w:
            for _ in range(60):  # 3.6 MB
                w.append(RecordType.TEXT, chunk)
        dropped = store.counter(StoreCounter.DROPPED_FRAMES)
        size = store.counter(StoreCounter.STORE_BYTES)
    assert size <= quota
    report = verify(tmp_path / "s")
    assert report.status != Status.DAMAGED, [str(f) for f in report.findings]
    if drop_oldest:
        assert dropped == 0
    else:
        assert dropped > 0 and report.status == Status.INCOMPLETE
