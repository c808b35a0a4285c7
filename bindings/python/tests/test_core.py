# SPDX-License-Identifier: LGPL-2.1-or-later
"""Contexts, configurations, servers, shares, images and events against
the in-memory test backend; errors and constants."""

import errno
import os
import pickle

import pytest

import libsoda
from libsoda import enums
from libsoda.enums import Direction, EventKind, ImageSource, Stat, State
from libsoda.errors import SodaError, error_class


def test_version():
    assert libsoda.version() == "%d.%d.%d" % (
        libsoda.version_number() >> 16, (libsoda.version_number() >> 8) & 0xff,
        libsoda.version_number() & 0xff)
    assert libsoda.memory_min() == 32 << 20
    assert libsoda.name_max() == 63


# Each enum against the #defines of the headers: a constant added to or
# changed in C and not here fails this test.
ENUM_PREFIXES = [
    (enums.State, "SODA_STATE_", ()),
    (enums.EventKind, "SODA_EVENT_", ()),
    (enums.LogLevel, "SODA_LOG_", ()),
    (enums.ImageSource, "SODA_IMAGE_SOURCE_", ()),
    (enums.Direction, "SODA_DIRECTION_", ()),
    (enums.Stat, "SODA_STAT_", ("MAX",)),
    (enums.NetCounter, "SODA_NET_", ("COUNTER_MAX", "TOTAL_")),
    (enums.NetTotal, "SODA_NET_TOTAL_", ("MAX",)),
    (enums.KeyType, "SODA_BLACKBOX_KEY_", ("NO_CLOBBER",)),
    (enums.Durability, "SODA_BLACKBOX_DURABILITY_", ()),
    (enums.StoreCounter, "SODA_BLACKBOX_STAT_", ()),
    (enums.Severity, "SODA_BLACKBOX_SEVERITY_", ()),
    (enums.Basis, "SODA_BLACKBOX_BASIS_", ()),
    (enums.FindingKind, "SODA_BLACKBOX_F_", ("MAX",)),
    (enums.ReportCounter, "SODA_BLACKBOX_REPORT_", ()),
    (enums.ExportFormat, "SODA_BLACKBOX_EXPORT_", ("OPTIONS_VERSION",)),
    (enums.ReadFlags, "SODA_BLACKBOX_READ_", ()),
    (enums.RecordFlags, "SODA_BLACKBOX_RECORD_F_", ()),
    (enums.GuestProfile, "SODA_GUEST_PROFILE_", ()),
    (enums.Retention, "SODA_BLACKBOX_RETENTION_", ()),
    (enums.IdsResponse, "SODA_IDS_RESPONSE_", ()),
    (enums.IdsStat, "SODA_IDS_STAT_", ("MAX",)),
]


@pytest.mark.parametrize("cls,prefix,skip", ENUM_PREFIXES, ids=lambda x: getattr(x, "__name__", None))
def test_enums_match_headers(header_defines, cls, prefix, skip):
    want = {k[len(prefix):]: v for k, v in header_defines.items()
            if k.startswith(prefix) and not any(k[len(prefix):].startswith(s) for s in skip)}
    assert want, prefix
    assert {m.name: m.value for m in cls} == want


def test_record_types_and_status_match_headers(header_defines):
    types = {n: v for n, v in header_defines.items() if n.startswith("SODA_BLACKBOX_")
             and n[len("SODA_BLACKBOX_"):] in enums.RecordType.__members__}
    assert len(types) == len(enums.RecordType) == header_defines["SODA_BLACKBOX_TYPE_MAX"]
    for n, v in types.items():
        assert enums.RecordType[n[len("SODA_BLACKBOX_"):]] == v
    for m in enums.Status:
        assert header_defines["SODA_BLACKBOX_" + m.name] == m.value


def test_errors_are_oserrors_of_the_right_class(ctx):
    with pytest.raises(SodaError) as e:
        libsoda.ServerConfig("bad/name")
    assert e.value.errno == errno.EINVAL and e.value.code == -errno.EINVAL
    assert isinstance(e.value, OSError) and type(e.value) is SodaError
    assert "'/'" in e.value.message
    ctx.define(libsoda.ServerConfig("a"))
    with pytest.raises(FileExistsError) as e:
        ctx.define(libsoda.ServerConfig("a"))
    assert isinstance(e.value, SodaError) and e.value.errno == errno.EEXIST
    with pytest.raises(FileNotFoundError) as e:
        ctx.server("ghost")
    assert "ghost" in str(e.value)
    with pytest.raises(FileNotFoundError):
        libsoda.Context("nfs:///")
    assert issubclass(error_class(errno.EACCES), PermissionError)
    assert issubclass(error_class(errno.EPERM), PermissionError)
    assert issubclass(error_class(errno.ETIMEDOUT), TimeoutError)
    assert issubclass(error_class(errno.EAGAIN), BlockingIOError)
    assert issubclass(error_class(errno.ECHILD), ChildProcessError)
    assert error_class(errno.EBUSY) is SodaError
    # Picklable (for multiprocessing), class and location kept.
    err = libsoda.errors.make_error(errno.ENOENT, "gone", "x.pol", 3, 7)
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is type(err) and (back.source, back.line, back.column) == ("x.pol", 3, 7)
    assert str(back) == "x.pol:3:7: gone [ENOENT]"


def test_bad_input_has_a_column():
    with pytest.raises(SodaError) as e:
        libsoda.Shares("cpu.weight=1 bogus=1")
    assert e.value.column == 14 and e.value.errno == errno.EINVAL
    assert "unknown key 'bogus'" in e.value.message
    with pytest.raises(ValueError):
        libsoda.check_name("a\0b")
    libsoda.check_name("ok-name")
    with pytest.raises(SodaError):
        libsoda.check_name("..")


def test_config_round_trip(tmp_path):
    cfg = libsoda.ServerConfig("web", image="busybox", memory_mib=48, labels=["front", "web"])
    cfg.add_kernel_arg("loglevel=4").add_share(tmp_path, "/data", readonly=True)
    cfg.add_nic("lan", addresses=["198.51.100.7/24"]).add_nic("dmz", mac="02:00:00:00:00:09")
    cfg.add_nic_address(1, "203.0.113.9/24")
    cfg.shares = "cpu.weight=300 pids.max=512"
    assert (cfg.name, cfg.image, cfg.memory) == ("web", "busybox", 48 << 20)
    assert cfg.kernel_args == ["loglevel=4"]
    assert cfg.shared_dirs == [libsoda.Share(str(tmp_path), "/data", True)]
    assert cfg.nics[0].network == "lan" and cfg.nics[0].addresses == ("198.51.100.7/24",)
    assert cfg.nics[0].mac and cfg.nics[0].mac.startswith("02:")
    assert cfg.nics[1] == libsoda.Nic("dmz", "02:00:00:00:00:09", ("203.0.113.9/24",))
    assert cfg.labels == ["front", "web"]
    assert str(cfg.shares) == "cpu.weight=300 pids.max=512"
    c2 = cfg.copy()
    c2.memory = 64 << 20
    assert cfg.memory == 48 << 20 and c2.nics == cfg.nics
    with pytest.raises(SodaError):
        cfg.add_kernel_arg("a b")  # two words as one (the backend's own words: at define)
    with pytest.raises(FileNotFoundError):
        cfg.add_nic_address(5, "198.51.100.8/24")
    with pytest.raises(SodaError):
        cfg.memory = 8 << 20
    assert cfg.memory == 48 << 20


def test_blackbox_key_in_config():
    cfg = libsoda.ServerConfig("bb")
    assert cfg.blackbox is None
    key = bytes(range(1, 33))
    assert cfg.set_blackbox(key).blackbox == key
    with pytest.raises(ValueError):
        cfg.set_blackbox(b"short")
    with pytest.raises(SodaError) as e:
        cfg.set_blackbox(bytes(32))
    assert e.value.errno == errno.EINVAL and "zero" in e.value.message
    assert cfg.blackbox == key
    k = libsoda.Key.generate()
    assert cfg.set_blackbox(k.public()).blackbox == k.box_public


def test_shares_setters():
    s = libsoda.Shares()
    assert s.cpu_weight == 100 and s.cpu_max == 0 and s.cpus is None
    s.cpu_weight = 250
    s.cpu_max = 150
    s.cpus = "0"
    s.memory_max = 256 << 20
    s.pids_max = 100
    s.set_bandwidth(Direction.OUT, 20_000_000)
    s.set_bandwidth(Direction.IN, 1_000_000, 65536)
    assert (s.cpu_weight, s.cpu_max, s.cpus, s.memory_max, s.pids_max) == (
        250, 150, "0", 256 << 20, 100)
    assert s.bandwidth(Direction.OUT)[0] == 20_000_000
    assert s.bandwidth(Direction.IN) == (1_000_000, 65536)
    assert libsoda.Shares(str(s)) == s and s.copy() == s
    with pytest.raises(SodaError):
        s.cpu_weight = 0
    with pytest.raises(SodaError):
        s.bandwidth(7)
    assert libsoda.stat_key_name(Stat.CPU_USEC) == "cpu_usec"
    assert libsoda.stat_key_name(999) is None


def test_lifecycle_and_events(ctx):
    events = []
    hid = ctx.on_event(events.append)
    srv = ctx.define(libsoda.ServerConfig("web", memory_mib=64).add_label("front"))
    assert ctx.servers() == ["web"] and srv.name == "web"
    assert srv.state is State.SHUTOFF and str(srv.state) == "shutoff"
    srv.start()
    assert srv.state == State.RUNNING
    info = srv.info()
    assert info.ready and info.state == State.RUNNING and info.started_usec > 0
    srv.wait_state(State.RUNNING, timeout=1)
    srv.freeze()
    assert srv.state == State.PAUSED
    srv.thaw()
    srv.restart(timeout=1)
    srv.stop(timeout=1)
    assert ctx.process() > 0
    assert [(e.kind, e.state) for e in events] == [
        (EventKind.DEFINED, State.SHUTOFF), (EventKind.STATE, State.STARTING),
        (EventKind.STATE, State.RUNNING), (EventKind.STATE, State.PAUSED),
        (EventKind.STATE, State.RUNNING), (EventKind.STATE, State.SHUTOFF),
        (EventKind.STATE, State.STARTING), (EventKind.STATE, State.RUNNING),
        (EventKind.STATE, State.SHUTOFF)]
    assert all(e.server == "web" for e in events)
    with pytest.raises(SodaError) as e:
        srv.set_shares("cpu.weight=200")  # the test backend cannot
    assert e.value.errno == errno.EOPNOTSUPP
    ctx.remove_handler(hid)
    with pytest.raises(FileNotFoundError):
        ctx.remove_handler(hid)
    assert srv.config.labels == ["front"]
    other = ctx.server("web")
    assert other.name == "web" and srv.ref().name == "web"
    srv.undefine()
    assert ctx.servers() == []
    with pytest.raises(SodaError) as e:
        srv.start()


def test_events_iterator(ctx):
    assert ctx.pending_events() == []
    srv = ctx.define(libsoda.ServerConfig("it"))
    srv.start()
    srv.kill()
    got = []
    for ev in ctx.events(timeout=0.5):
        got.append(ev)
        if ev.kind == EventKind.STATE and ev.state == State.SHUTOFF:
            break
    assert got[0].kind == EventKind.DEFINED and got[0].server == "it"
    assert got[-1].state == State.SHUTOFF and str(got[-1]).startswith("it: ")
    srv.undefine()
    assert [e.kind for e in ctx.events(timeout=0.2)] == [EventKind.UNDEFINED]
    assert list(ctx.events(timeout=0)) == []
    assert ctx.fileno() >= 0


def test_handler_exception_reaches_the_caller(ctx):
    def boom(ev):
        raise KeyError("from the handler")
    ctx.on_event(boom)
    ctx.define(libsoda.ServerConfig("x"))
    with pytest.raises(KeyError):
        ctx.process()


def test_server_context_manager(ctx):
    with ctx.define(libsoda.ServerConfig("tmp")) as srv:
        srv.start()
        srv.freeze()
    assert ctx.servers() == []
    with ctx.define(libsoda.ServerConfig("tmp2")) as srv:
        srv.start()
    assert ctx.servers() == []


def test_unsupported_by_the_test_backend(ctx, tmp_path):
    srv = ctx.define(libsoda.ServerConfig("u"))
    srv.start()
    for f in (lambda: srv.dump(tmp_path / "d"), srv.open_console, srv.stats,
              lambda: srv.blackbox_dir, lambda: ctx.create_network("lan"), ctx.networks):
        with pytest.raises(SodaError) as e:
            f()
        assert e.value.errno in (errno.EOPNOTSUPP, errno.ENOTSUP)
    assert ctx.recover() == 0
    assert ctx.uri == "test:///default" and ctx.state_dir is None and ctx.netns is None


def test_images(ctx):
    ctx.build_image("second")
    ctx.build_image("third", ImageSource.BUSYBOX)
    ctx.build_image("third", "busybox", replace=True)
    assert ctx.images() == ["busybox", "second", "third"]
    with pytest.raises(FileExistsError):
        ctx.build_image("busybox")
    ctx.remove_image("second")
    ctx.remove_image("third")
    with pytest.raises(FileNotFoundError):
        ctx.remove_image("second")
    with pytest.raises(SodaError):
        ctx.image_path("busybox")


def test_log_hook_and_closed_context():
    seen = []
    c = libsoda.Context("test:///default", log=lambda lvl, msg: seen.append((lvl, msg)),
                        log_level=7)
    c.close()
    c.close()
    with pytest.raises(ValueError):
        c.servers()


def test_guest_profile_and_sensitive_shares(header_defines):
    from libsoda.enums import GuestProfile
    for m in GuestProfile:
        assert header_defines["SODA_GUEST_PROFILE_" + m.name] == m.value
        assert libsoda.guest_profile_name(m) == m.name.lower()
        assert libsoda.guest_profile_from_name(m.name.lower()) == m
    assert libsoda.guest_profile_name(99) is None
    with pytest.raises(SodaError) as e:
        libsoda.guest_profile_from_name("wide-open")
    assert e.value.errno == errno.EINVAL and "wide-open" in e.value.message
    cfg = libsoda.ServerConfig("g")
    assert cfg.guest_profile == GuestProfile.LOCKED
    cfg.guest_profile = "open"
    assert cfg.guest_profile == GuestProfile.OPEN and cfg.copy().guest_profile == GuestProfile.OPEN
    with pytest.raises(SodaError):
        cfg.guest_profile = 7
    assert cfg.guest_profile == GuestProfile.OPEN
    if "SODA_SHARE_ALLOW_SENSITIVE" in header_defines:
        with pytest.raises(PermissionError):
            cfg.add_share("/etc", "/hostetc")
        cfg.add_share("/etc", "/hostetc", readonly=True, allow_sensitive=True)
        assert cfg.shared_dirs[-1].host_dir == "/etc"


def test_blackbox_retention():
    from libsoda.enums import Retention
    assert libsoda.retention_name(Retention.DROP_OLDEST) == "drop-oldest"
    assert libsoda.retention_from_name("stop") == Retention.STOP
    assert libsoda.retention_name(9) is None
    with pytest.raises(SodaError):
        libsoda.retention_from_name("keep-all")
    cfg = libsoda.ServerConfig("r")
    assert cfg.blackbox_retention == (Retention.STOP, 0)
    cfg.set_blackbox_retention("drop-oldest", 8 << 20)
    assert cfg.blackbox_retention == (Retention.DROP_OLDEST, 8 << 20)
    assert cfg.copy().blackbox_retention == (Retention.DROP_OLDEST, 8 << 20)
    with pytest.raises(SodaError) as e:
        cfg.set_blackbox_retention(Retention.STOP, 1000)  # below 1 MiB
    assert e.value.errno == errno.EINVAL
    assert cfg.blackbox_retention == (Retention.DROP_OLDEST, 8 << 20)


def test_ids_configuration_and_calls(ctx, tmp_path):
    from libsoda.enums import IdsResponse, IdsStat
    assert libsoda.ids_stat_key_name(IdsStat.DROPS) == "drops"
    assert libsoda.ids_stat_key_name(99) is None
    cfg = libsoda.ServerConfig("ids")
    assert not cfg.ids_landlord_alerts and cfg.ids_response == (IdsResponse.NONE, 1)
    cfg.ids_landlord_alerts = True
    cfg.set_ids_response(IdsResponse.FREEZE, 2)
    assert cfg.ids_landlord_alerts and cfg.ids_response == (IdsResponse.FREEZE, 2)
    with pytest.raises(SodaError) as e:
        cfg.set_ids_response(IdsResponse.FREEZE, 0)
    assert e.value.errno == errno.EINVAL and cfg.ids_response == (IdsResponse.FREEZE, 2)
    assert cfg.ids_bypass == 0
    cfg.ids_bypass = 1 << 20
    with pytest.raises(SodaError) as e:
        cfg.ids_bypass = 100
    assert e.value.errno == errno.EINVAL and cfg.ids_bypass == 1 << 20
    assert libsoda.ids_stat_key_name(IdsStat.BYPASSED_PACKETS) == "bypassed-packets"
    c2 = cfg.copy()
    assert c2.ids_landlord_alerts and c2.ids_response == (IdsResponse.FREEZE, 2)
    assert c2.ids_bypass == 1 << 20
    # The guest's rules: read at once (a missing file is FileNotFoundError).
    assert cfg.ids_rules_sha256 is None
    with pytest.raises(FileNotFoundError):
        cfg.set_ids_rules(tmp_path / "none.rules")
    assert cfg.set_ids_rules(None).ids_rules_sha256 is None
    # The test backend has no port IDS; the calls get there and say so.
    srv = ctx.define(cfg)
    srv.start()
    rules = tmp_path / "r.rules"
    rules.write_text('alert icmp any any -> any any (msg:"x"; sid:1;)\n')
    for f in (lambda: srv.ids_enable(rules), lambda: srv.ids_reload(rules), srv.ids_disable,
              srv.ids_stats, srv.ids_alerts):
        with pytest.raises(SodaError) as e:
            f()
        assert e.value.errno in (errno.EOPNOTSUPP, errno.ENOTCONN, errno.ENODEV), e.value


def test_exec_through_the_test_backend(ctx):
    """The test backend echoes (backends/test/test.c): argv joined, then stdin
    on stdout; who and where on stderr; 'exit N' and 'kill N' as statuses."""
    srv = ctx.define(libsoda.ServerConfig("ex"))
    with pytest.raises(SodaError) as e:
        srv.run(["true"])  # not running
    assert e.value.errno == errno.EBUSY
    srv.start()
    data = bytes(range(256)) * 512
    r = srv.run(["cat", "-"], input=data, env={"A": "1", "B": "2"}, user="nobody", cwd="/tmp")
    assert r.status == 0 and r.signal == 0
    assert r.stdout == b"cat -\n" + data
    assert r.stderr == b"user nobody cwd /tmp env 2\n"
    r = srv.run(["exit", "3"])
    assert (r.status, r.signal, r.stderr) == (3, 0, b"user root cwd ~ env 0\n")
    r = srv.run(["kill", "9"])
    assert (r.status, r.signal) == (-1, 9)
    with pytest.raises(TimeoutError):
        srv.run(["sleep", "9"], timeout=0.5)
    with pytest.raises(TypeError):
        srv.run("echo hi")  # type: ignore[arg-type]
    with pytest.raises(SodaError) as e:
        srv.run(["x"], cwd="relative")
    assert e.value.errno == errno.EINVAL
    assert srv.exec("exit 5") == (0, "sh -c exit 5\nuser root cwd ~ env 0\n")
