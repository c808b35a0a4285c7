# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Python binding against the in-memory test backend."""

import errno
import os
import select

import pytest

import soda


@pytest.fixture
def ctx():
    with soda.Context("test:///default") as c:
        yield c


def test_version():
    assert soda.version() == "0.1.0"


def test_lifecycle_and_events(ctx):
    seen = []
    hid = ctx.on_event(seen.append)
    cfg = soda.ServerConfig("web", memory_mib=64).add_label("front")
    srv = ctx.define(cfg)
    assert ctx.servers() == ["web"]
    assert srv.state == soda.STATE_SHUTOFF
    srv.start()
    assert srv.state_name == "running"
    assert srv.info()["ready"] is True
    srv.freeze()
    srv.thaw()
    srv.stop()
    # The events arrive through the fd, in order.
    r, _, _ = select.select([ctx], [], [], 1.0)
    assert r == [ctx]
    assert ctx.process() > 0
    assert [e.state_name for e in seen if e.kind == 1] == [
        "starting", "running", "paused", "running", "shutoff"]
    assert seen[0].kind == 2 and seen[0].server == "web"
    ctx.remove_handler(hid)
    srv.undefine()
    assert ctx.servers() == []


def test_errors_carry_code_and_message(ctx):
    with pytest.raises(soda.SodaError) as e:
        soda.ServerConfig("bad/name")
    assert e.value.errno == errno.EINVAL
    assert "'/'" in e.value.message
    srv = ctx.define(soda.ServerConfig("a"))
    with pytest.raises(soda.SodaError) as e:
        srv.stop()
    assert e.value.errno == errno.EBUSY
    with pytest.raises(soda.SodaError) as e:
        ctx.define(soda.ServerConfig("a"))
    assert e.value.errno == errno.EEXIST
    with pytest.raises(soda.SodaError) as e:
        ctx.server("ghost")
    assert e.value.errno == errno.ENOENT
    with pytest.raises(soda.SodaError) as e:
        soda.Context("nfs:///")
    assert e.value.errno == errno.ENOENT


def test_shares_text_and_columns():
    s = soda.Shares("cpu.weight=300 cpu.max=20% net.out=20Mbit")
    assert str(s) == "cpu.weight=300 cpu.max=20% net.out=20Mbit"
    with pytest.raises(soda.SodaError) as e:
        soda.Shares("cpu.weight=1 bogus=1")
    assert e.value.column == 14
    assert "unknown key 'bogus'" in e.value.message
    with pytest.raises(soda.SodaError):
        soda.ServerConfig("m", memory_mib=8)


def test_images(ctx):
    ctx.build_image("second")
    assert ctx.images() == ["busybox", "second"]
    with pytest.raises(soda.SodaError) as e:
        ctx.build_image("busybox")
    assert e.value.errno == errno.EEXIST
    ctx.remove_image("second")


def test_blackbox_key():
    cfg = soda.ServerConfig("bb")
    assert cfg.blackbox is None
    key = bytes(range(1, 33))
    assert cfg.set_blackbox(key).blackbox == key
    with pytest.raises(ValueError):
        cfg.set_blackbox(b"short")
    with pytest.raises(soda.SodaError) as e:
        cfg.set_blackbox(bytes(32))
    assert e.value.errno == errno.EINVAL
    assert "zero" in e.value.message
    # A refused key changes nothing.
    assert cfg.blackbox == key
