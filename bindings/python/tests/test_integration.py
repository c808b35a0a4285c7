# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Python binding with real guests (root, UML; label "integration"):
a switch in a network namespace the test makes, two servers, a policy that
lets one ping the other and not back (the denied ping is the attack, the
allowed one its positive control, and the empty policy takes the allowance
away again); a blackbox written in a guest, verified without a key and read
with it. Everything lives in the namespace and a state directory the test
removes, also when it fails; the names carry the test's pid, so the C
tests' sweeps clean up after a killed run (tests/helpers/testhelp.c)."""

import glob
import itertools
import os
import shutil
import subprocess
import tempfile
import time

import pytest

import libsoda
from libsoda import EventKind, NetCounter, ServerConfig, SodaError, State, Status
from libsoda.blackbox import Key, Reader, verify
from libsoda.enums import RecordType, Stat

pytestmark = pytest.mark.integration

A_IP, B_IP = "198.51.100.10", "198.51.100.20"
_counter = itertools.count(100)


def _start_time(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[19])


def _cgroup_dir(state_dir):
    h = 2166136261
    for b in state_dir.encode():
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    for root in ("/sys/fs/cgroup/freezer", "/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
        if os.path.exists(root):
            return "%s/soda/%08x" % (root, h)
    return None


@pytest.fixture
def env():
    if os.geteuid() != 0 or not os.environ.get("SODA_MONITOR"):
        pytest.skip("needs root and SODA_MONITOR/SODA_AGENT (run through ctest)")
    state = tempfile.mkdtemp(prefix="soda-it-", dir="/tmp")
    with open(os.path.join(state, ".soda-it-owner"), "w") as f:
        f.write("%d %d\n" % (os.getpid(), _start_time(os.getpid())))
    netns = "soda-it-%d-%d" % (os.getpid(), next(_counter))
    subprocess.run(["ip", "netns", "add", netns], check=True)
    subprocess.run(["ip", "-n", netns, "link", "set", "lo", "up"], check=True)
    ctx = None
    try:
        ctx = libsoda.Context("uml:///", state_dir=state, netns=netns,
                              driver_options={"monitor": os.environ["SODA_MONITOR"],
                                              "agent": os.environ.get("SODA_AGENT")})
        ctx.build_image("busybox")
        yield ctx
    finally:
        if ctx is not None:
            for name in ctx.servers():
                try:
                    srv = ctx.server(name)
                    srv.kill()
                except libsoda.SodaError:
                    pass
                try:
                    ctx.server(name).undefine()
                except libsoda.SodaError:
                    pass
            try:
                for name in ctx.networks():
                    ctx.network(name).destroy(force=True)
            except libsoda.SodaError:
                pass
            ctx.recover()
            ctx.close()
        cg = _cgroup_dir(state)
        if cg and os.path.isdir(cg):
            for d in glob.glob(cg + "/*/"):
                try:
                    os.rmdir(d)
                except OSError:
                    pass
            try:
                os.rmdir(cg)
            except OSError:
                pass
        shutil.rmtree(state, ignore_errors=True)
        subprocess.run(["ip", "netns", "del", netns], check=False)


def _guest(ctx, name, ip, label=None, blackbox=None):
    cfg = ServerConfig(name, memory_mib=40).add_nic("lan", addresses=[ip + "/24"])
    if label:
        cfg.add_label(label)
    if blackbox is not None:
        cfg.set_blackbox(blackbox)
    srv = ctx.define(cfg)
    srv.start()
    return srv


def _ping(srv, ip, tries=1):
    cmd = " || ".join(["ping -c 1 -W 1 %s >/dev/null 2>&1" % ip] * tries)
    status, _ = srv.exec(cmd, timeout=30)
    return status == 0


def test_policy_is_enforced_between_two_guests(env):
    ctx = env
    events = []
    ctx.on_event(events.append)
    with ctx.create_network("lan") as lan:
        assert ctx.networks() == ["lan"] and ctx.network("lan").name == "lan"
        with _guest(ctx, "pya", A_IP, label="front") as a, _guest(ctx, "pyb", B_IP) as b:
            assert a.state == State.RUNNING and b.info().ready
            info = lan.info()
            assert info.firewall and len(info.ports) == 2
            assert info.flood_limit == (100, 200)  # the documented default
            lan.set_flood_limit(50, 100)
            assert lan.info().flood_limit == (50, 100)
            with pytest.raises(SodaError):
                lan.set_flood_limit(2_000_000, 1)
            assert {p.server for p in info.ports} == {"pya", "pyb"}
            assert [p.addresses for p in info.ports if p.server == "pya"] == [(A_IP + "/24",)]
            # Default deny: no ping either way.
            assert not _ping(a, B_IP)
            lan.apply_policy("allow from group front to server pyb icmp\n")
            assert lan.info().rule_count == 1 and len(lan.policy) == 1
            assert "rule 1" in lan.compiled()
            # The positive control: the allowed direction works...
            assert _ping(a, B_IP, tries=3)
            # ...the attack, the other direction, does not.
            assert not _ping(b, A_IP)
            # Events come from rescans of the state (process(), wait(), and
            # the waits inside calls); a state that lasts is seen by the
            # next one: both servers run, so both have said so by now.
            ctx.process()
            for name in ("pya", "pyb"):
                assert [e.state for e in events if e.server == name and
                        e.kind == EventKind.STATE][-1] == State.RUNNING, [str(e) for e in events]
            c = lan.counters()
            assert c.rules[0].packets >= 2 and c.rules[0].text.startswith("allow from group front")
            assert c.packets("pyb", NetCounter.DROP_POLICY_OUT) >= 1
            assert c.packets("pya", NetCounter.ACCEPTED) >= 1
            # Taking the allowance away works at once on running guests.
            lan.apply_policy("")
            assert not _ping(a, B_IP)
            # A policy naming a server that is not there is refused, with
            # its place, and changes nothing.
            with pytest.raises(FileNotFoundError) as e:
                lan.apply_policy("allow from server ghost to server pyb icmp\n")
            assert e.value.line == 1 and e.value.column > 0
            assert len(lan.policy) == 0
            # Other calls a running guest answers.
            stats = a.stats()
            assert stats[Stat.CPU_USEC] > 0
            with a.open_console() as con:
                con.sendall(b"echo console-$((40+2))\n")
                seen = b""
                deadline = time.monotonic() + 20
                while b"console-42" not in seen and time.monotonic() < deadline:
                    con.settimeout(1)
                    try:
                        seen += con.recv(4096)
                    except OSError:
                        pass
                assert b"console-42" in seen
            a.freeze()
            assert a.state == State.PAUSED
            a.thaw()
        # The with blocks stopped and undefined both servers.
        assert ctx.servers() == []
        # A rescan (process()) after the undefine reports it, whatever came before.
        ctx.process()
        assert any(e.kind == EventKind.UNDEFINED and e.server == "pya" for e in events)
    assert ctx.networks() == []


def test_blackbox_is_read_and_verified(env):
    ctx = env
    key = Key.generate()
    with ctx.create_network("lan"):
        with _guest(ctx, "pybb", A_IP, blackbox=key.public()) as srv:
            store = srv.blackbox_dir
            status, out = srv.exec("printf 'SODA-PY-%s\\n' BB > /dev/blackbox; echo done")
            assert status == 0 and "done" in out
            srv.stop()
            report = verify(store)
            assert report.status == Status.INTACT, [str(f) for f in report.findings]
            assert report.counter(libsoda.blackbox.ReportCounter.FRAMES) > 5
            with Reader(store, key) as r:
                records = list(r)
                assert r.report.status == Status.INTACT
            texts = [x.text for x in records if x.type == RecordType.TEXT]
            assert "SODA-PY-BB\n" in texts or "SODA-PY-BB" in texts, texts
            life = [x.text for x in records if x.type == RecordType.LIFECYCLE]
            assert any("running" in t for t in life) and any("shutoff" in t for t in life)
            assert all(x.origin in ("guest", "host") for x in records)
            # The host cannot read it: the plaintext is in no file of the store.
            for path in glob.glob(os.path.join(store, "*")):
                with open(path, "rb") as f:
                    assert b"SODA-PY-BB" not in f.read()
            # A wrong key reads nothing of it.
            with Reader(store, Key.generate()) as r:
                assert not any(x.type == RecordType.TEXT for x in r)
