#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""soda-ids end to end: captures written here with scapy, rules written
here, the EVE alerts compared exactly (sid, pcap_cnt, addresses, ports,
proto) with what each scenario must give.

    test_pcap.py SODA_IDS          run every scenario
    test_pcap.py SODA_IDS NAME...  run some

The scenarios: content split across TCP segments; a retransmission (not
inspected twice); segments out of order; overlapping segments (the first
data wins, so the bytes a later segment brings over seen ones change
nothing); absolute offsets counted from the stream's start once the window
starts mid-stream; midstream pickup with and without --midstream; a forged RST
with a bad checksum (it evades a flow:established rule without
--validate-checksums, not with it); IPv4 and IPv6 fragments out of order
(no fragment alone holds
the content); 802.1Q and QinQ; IPv6 extension headers; UDP and ICMP;
a pcapng capture; raw-IP (DLT_RAW) captures. Addresses only from
198.51.100.0/24, 203.0.113.0/24 and 2001:db8::/32 (documentation).
"""
import ipaddress
import json
import logging
import os
import subprocess
import sys
import tempfile

from scapy.all import (IP, TCP, UDP, ICMP, IPv6, Ether, Dot1Q, Dot1AD, Raw,  # noqa: E402
                       IPv6ExtHdrFragment, IPv6ExtHdrHopByHop, IPv6ExtHdrDestOpt,
                       ICMPv6EchoRequest, Loopback, wrpcap, PcapNgWriter, conf)

conf.verb = 0
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
C4, S4 = "198.51.100.10", "203.0.113.20"
C6, S6 = "2001:db8::10", "2001:db8::20"
# EVE writes IPv6 addresses in full, as Suricata does.
C6X, S6X = (ipaddress.ip_address(a).exploded for a in (C6, S6))
CPORT = 41000


def E():
    """Ethernet with both addresses given (scapy would look them up otherwise)."""
    return Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")


class Tcp:
    """One TCP connection's packets, sequence numbers kept."""

    def __init__(self, l2=E, c=C4, s=S4, cport=CPORT, sport=80, cisn=1000, sisn=50000,
                 v6=False):
        self.l2, self.c, self.s, self.cport, self.sport = l2, c, s, cport, sport
        self.cisn, self.sisn, self.v6 = cisn, sisn, v6

    def ip(self, to_server):
        src, dst = (self.c, self.s) if to_server else (self.s, self.c)
        ip = IPv6(src=src, dst=dst) if self.v6 else IP(src=src, dst=dst)
        return (self.l2() / ip) if self.l2 else ip

    def pkt(self, to_server, flags, rel_seq, data=b""):
        sp, dp = (self.cport, self.sport) if to_server else (self.sport, self.cport)
        seq = (self.cisn if to_server else self.sisn) + rel_seq
        ack = (self.sisn if to_server else self.cisn) + 1
        t = TCP(sport=sp, dport=dp, flags=flags, seq=seq & 0xffffffff,
                ack=ack & 0xffffffff if "A" in flags else 0)
        p = self.ip(to_server) / t
        return p / Raw(data) if data else p

    def handshake(self):
        return [self.pkt(True, "S", 0), self.pkt(False, "SA", 0), self.pkt(True, "A", 1)]

    def data(self, rel, payload, to_server=True):
        """payload at stream offset rel (0 = first byte after the SYN)"""
        return self.pkt(to_server, "PA", 1 + rel, payload)


def want(sid, cnt, src, sport, dst, dport, proto):
    return {"sid": sid, "pcap_cnt": cnt, "src_ip": src, "src_port": sport,
            "dest_ip": dst, "dest_port": dport, "proto": proto}


def to_client(sid, cnt, proto="TCP"):
    return want(sid, cnt, C4, CPORT, S4, 80, proto)


def udp_bytes(src, dst, sport, dport, payload, v6=False):
    ip = IPv6(src=src, dst=dst) if v6 else IP(src=src, dst=dst)
    b = bytes(ip / UDP(sport=sport, dport=dport) / Raw(payload))
    return b[40:] if v6 else b[20:]


def scenarios():
    s = {}
    t = Tcp()
    # 1-3 handshake; 4 and 5 carry "mali" + "cious": only the stream has it.
    s["tcp_split"] = (
        t.handshake() + [t.data(0, b"GET /mali"), t.data(9, b"cious HTTP/1.0\r\n\r\n")],
        ['alert tcp any any -> any 80 (msg:"split"; content:"malicious"; sid:1001;)'],
        [to_client(1001, 5)])
    # The same segment twice: the second brings nothing new.
    s["tcp_retransmit"] = (
        t.handshake() + [t.data(0, b"GET /a"), t.data(6, b"b-malicious"), t.data(6, b"b-malicious")],
        ['alert tcp any any -> any 80 (msg:"rexmit"; content:"/ab-mal"; sid:1002;)'],
        [to_client(1002, 5)])
    # Out of order: the tail first (held), the head fills the gap.
    s["tcp_out_of_order"] = (
        t.handshake() + [t.data(9, b"cious payload"), t.data(5, b"mali"), t.data(0, b"GET /")],
        ['alert tcp any any -> any 80 (msg:"ooo"; content:"/malicious"; sid:1003;)'],
        [to_client(1003, 6)])
    # Overlap: "GET /evi" then its last 3 bytes again, differently, with
    # more: first wins gives "GET /evil-bit" (1004 fires), never
    # "GET /XXXl-bit" (1005 would fire if the later bytes won).
    s["tcp_overlap"] = (
        t.handshake() + [t.data(0, b"GET /evi"), t.data(5, b"XXXl-bit")],
        ['alert tcp any any -> any 80 (msg:"first wins"; content:"/evil-bit"; sid:1004;)',
         'alert tcp any any -> any 80 (msg:"last wins"; content:"/XXXl"; sid:1005;)'],
        [to_client(1004, 5)])
    # The content in the server's answer: direction follows the initiator.
    s["tcp_to_client"] = (
        t.handshake() + [t.data(0, b"GET / HTTP/1.0\r\n\r\n"),
                         t.data(0, b"HTTP/1.0 200 OK\r\nsecret", to_server=False)],
        ['alert tcp any 80 -> any any (msg:"answer"; flow:established,to_client; '
         'content:"secret"; sid:1006;)'],
        [want(1006, 5, S4, 80, C4, CPORT, "TCP")])

    # Absolute positions count from the stream's start, not the window's.
    # Flow a opens with "MAGIC", then "TAIL". Flow b has 5000 bytes, then
    # "MAGIC", 4091 more, then "TAIL": the TAIL packet's window (4096 bytes
    # of history) starts exactly on b's MAGIC, 5000 bytes into the stream.
    # 1007 and 1008 need MAGIC at the stream's start: a only (counted from
    # the window's start they would fire on b too). 1009 takes MAGIC
    # anywhere: both.
    x = b"x" * 1000
    a = Tcp(cport=CPORT + 2)
    b = Tcp(cport=CPORT + 3)
    s["tcp_absolute_offset"] = (
        a.handshake() + [a.data(0, b"MAGIC" + x[5:]), a.data(1000, b"TAIL")] +
        b.handshake() + [b.data(i * 1000, x) for i in range(5)] +
        [b.data(5000, b"MAGIC" + x[5:]), b.data(6000, b"x" * 3096), b.data(9096, b"TAIL")],
        ['alert tcp any any -> any 80 (msg:"abs"; content:"MAGIC"; offset:0; depth:5; '
         'content:"TAIL"; distance:0; sid:1007;)',
         'alert tcp any any -> any 80 (msg:"startswith"; content:"MAGIC"; startswith; '
         'content:"TAIL"; distance:0; sid:1008;)',
         'alert tcp any any -> any 80 (msg:"anywhere"; content:"MAGIC"; '
         'content:"TAIL"; distance:0; sid:1009;)'],
        [want(1007, 5, C4, CPORT + 2, S4, 80, "TCP"), want(1008, 5, C4, CPORT + 2, S4, 80, "TCP"),
         want(1009, 5, C4, CPORT + 2, S4, 80, "TCP"),
         want(1009, 16, C4, CPORT + 3, S4, 80, "TCP")])

    # Midstream: no handshake in the capture. Not established by default
    # (the flow:established rule stays quiet, the plain one fires); with
    # --midstream it is.
    mid = [t.data(0, b"GET /midstream-evil"), t.data(0, b"HTTP/1.0 200", to_server=False)]
    mid_rules = ['alert tcp any any -> any 80 (msg:"est"; flow:established,to_server; '
                 'content:"midstream-evil"; sid:1101;)',
                 'alert tcp any any -> any 80 (msg:"any"; content:"midstream-evil"; sid:1102;)']
    s["tcp_midstream"] = (mid, mid_rules, [to_client(1102, 1)])
    s["tcp_midstream_on"] = (mid, mid_rules, [to_client(1101, 1), to_client(1102, 1)],
                             ["--midstream"])
    # A forged RST with a bad checksum between two requests. Without
    # validation it closes the flow and the second request goes unseen by
    # the flow:established rule (the evasion works); with
    # --validate-checksums the RST is ignored and the rule fires.
    rst = t.pkt(False, "R", 1)
    rst[TCP].chksum = 0x1234
    forged = t.handshake() + [t.data(0, b"GET /first\r\n"), rst, t.data(12, b"GET /evil-after-rst")]
    f_rules = ['alert tcp any any -> any 80 (msg:"after rst"; flow:established; '
               'content:"evil-after-rst"; sid:1103;)']
    s["forged_rst"] = (forged, f_rules, [])
    s["forged_rst_validated"] = (forged, f_rules, [to_client(1103, 6)], ["--validate-checksums"])

    # IPv4 fragments, last first: no fragment holds "fragmented-evil".
    udp = udp_bytes(C4, S4, 5353, 53, b"A" * 20 + b"fragmented-evil" + b"B" * 40)
    frags = [IP(src=C4, dst=S4, id=77, proto=17, flags=("MF" if off + 24 < len(udp) else 0),
                frag=off // 8) / Raw(udp[off:off + 24]) for off in range(0, len(udp), 24)]
    s["ipv4_fragments"] = (
        [E() / f for f in reversed(frags)],
        ['alert udp any any -> any 53 (msg:"frag"; content:"fragmented-evil"; sid:2001;)'],
        [want(2001, len(frags), C4, 5353, S4, 53, "UDP")])
    # IPv6 fragments, middle, last, first.
    udp6 = udp_bytes(C6, S6, 5353, 53, b"C" * 30 + b"fragmented-evil" + b"D" * 30, v6=True)
    pieces = [(off, udp6[off:off + 32]) for off in range(0, len(udp6), 32)]
    frags6 = [E() / IPv6(src=C6, dst=S6) /
              IPv6ExtHdrFragment(nh=17, id=0x1234, offset=off // 8,
                                 m=1 if off + 32 < len(udp6) else 0) / Raw(b)
              for off, b in pieces]
    order = [1, 2, 0] + list(range(3, len(frags6)))
    s["ipv6_fragments"] = (
        [frags6[i] for i in order],
        ['alert udp any any -> any 53 (msg:"frag6"; content:"fragmented-evil"; sid:2002;)'],
        [want(2002, len(frags6), C6X, 5353, S6X, 53, "UDP")])

    # VLAN and QinQ: the same flow's packets decoded through the tags.
    v = Tcp(l2=lambda: E() / Dot1Q(vlan=100))
    q = Tcp(l2=lambda: E() / Dot1AD(vlan=300) / Dot1Q(vlan=42), cport=CPORT + 1)
    s["vlan_qinq"] = (
        v.handshake() + [v.data(0, b"vlan-evil")] + q.handshake() + [q.data(0, b"qinq-evil")],
        ['alert tcp any any -> any 80 (msg:"vlan"; content:"vlan-evil"; sid:3001;)',
         'alert tcp any any -> any 80 (msg:"qinq"; content:"qinq-evil"; sid:3002;)'],
        [to_client(3001, 4), want(3002, 8, C4, CPORT + 1, S4, 80, "TCP")])

    # IPv6 with hop-by-hop and destination options before UDP; ICMPv6.
    s["ipv6_ext_headers"] = (
        [E() / IPv6(src=C6, dst=S6) / IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt() /
         UDP(sport=4000, dport=4001) / Raw(b"behind-extension-headers"),
         E() / IPv6(src=C6, dst=S6) / ICMPv6EchoRequest(data=b"ping6-evil")],
        ['alert udp any any -> any 4001 (msg:"ext"; content:"behind-extension"; sid:4001;)',
         'alert icmp any any -> any any (msg:"icmp6"; content:"ping6-evil"; sid:4002;)'],
        [want(4001, 1, C6X, 4000, S6X, 4001, "UDP"),
         want(4002, 2, C6X, None, S6X, None, "IPv6-ICMP")])

    # UDP and ICMP over IPv4.
    s["udp_icmp"] = (
        [E() / IP(src=C4, dst=S4) / UDP(sport=3333, dport=53) / Raw(b"\x01\x00dns-evil"),
         E() / IP(src=C4, dst=S4) / ICMP(type=8) / Raw(b"ping-evil"),
         E() / IP(src=S4, dst=C4) / ICMP(type=0) / Raw(b"pong")],
        ['alert udp any any -> any 53 (msg:"udp"; content:"dns-evil"; sid:5001;)',
         'alert icmp any any -> any any (msg:"icmp"; itype:8; content:"ping-evil"; sid:5002;)'],
        [want(5001, 1, C4, 3333, S4, 53, "UDP"), want(5002, 2, C4, None, S4, None, "ICMP")])
    return s


# Captures written otherwise than as Ethernet pcap.
PCAPNG = {"tcp_split"}
RAW = {"udp_icmp_raw", "tcp_out_of_order_raw"}


def write_capture(path, pkts, fmt):
    for i, p in enumerate(pkts):
        p.time = 1700000000 + i * 0.001
    if fmt == "pcapng":
        with PcapNgWriter(path) as w:
            for p in pkts:
                w.write(p)
    elif fmt == "raw":
        # LINKTYPE_RAW (101), which libpcap reads as DLT_RAW; scapy warns
        # that IP packets are not its first choice for it.
        wrpcap(path, [p[IP] if IP in p else p[IPv6] for p in pkts], linktype=101)
    else:
        wrpcap(path, pkts)


def eve_alerts(path):
    out = []
    with open(path) as f:
        for line in f:
            e = json.loads(line)
            if e.get("event_type") != "alert":
                continue
            out.append({"sid": e["alert"]["signature_id"], "pcap_cnt": e.get("pcap_cnt"),
                        "src_ip": e.get("src_ip"), "src_port": e.get("src_port"),
                        "dest_ip": e.get("dest_ip"), "dest_port": e.get("dest_port"),
                        "proto": e.get("proto")})
    return out


def run(soda_ids, name, pkts, rules, expected, fmt, tmp, args=()):
    cap = os.path.join(tmp, name + (".pcapng" if fmt == "pcapng" else ".pcap"))
    write_capture(cap, pkts, fmt)
    rfile = os.path.join(tmp, name + ".rules")
    with open(rfile, "w") as f:
        f.write("\n".join(rules) + "\n")
    eve = os.path.join(tmp, name + ".eve.json")
    r = subprocess.run([soda_ids, "--rules", rfile, "--pcap", cap, "--eve", eve, "--stats"] +
                       list(args),
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        return f"{name}: soda-ids exited {r.returncode}: {r.stderr.strip()}"
    got = sorted(eve_alerts(eve), key=lambda a: (a["pcap_cnt"], a["sid"]))
    exp = sorted(expected, key=lambda a: (a["pcap_cnt"], a["sid"]))
    if got != exp:
        return f"{name} ({fmt}): alerts\n  got      {got}\n  expected {exp}\n{r.stderr}"
    return None


def usage_checks(soda_ids, tmp):
    """Exit codes: 2 for usage; 1 for a runtime error (rules that do not
    load, a capture cut short or of a link type not decoded, an EVE file
    that cannot be written); 0 for a sound --check or a whole capture."""
    errs = []
    good = os.path.join(tmp, "good.rules")
    with open(good, "w") as f:
        f.write('alert tcp any any -> any any (msg:"x"; content:"x"; sid:1;)\n')
    bad = os.path.join(tmp, "bad.rules")
    with open(bad, "w") as f:
        f.write('alert tcp any any -> any any (msg:"x"; content:"x"; sid:1;)\n'
                'alert tcp any any -> any any (msg:"y"; nosuchkeyword; sid:2;)\n')
    cases = [([], 2), (["--bogus"], 2), (["--rules", good], 2), (["--check", good], 0),
             (["--check", bad], 1),
             (["--rules", good, "--pcap", os.path.join(tmp, "missing.pcap"), "--eve",
               os.path.join(tmp, "x.json")], 1)]
    # A capture cut in the middle of a packet, and a link type not decoded.
    whole = os.path.join(tmp, "whole.pcap")
    write_capture(whole, [E() / IP(src=C4, dst=S4) / UDP(sport=1, dport=2) / Raw(b"x" * 100)] * 2,
                  "pcap")
    cut = os.path.join(tmp, "cut.pcap")
    with open(whole, "rb") as f, open(cut, "wb") as g:
        g.write(f.read()[:-50])
    null = os.path.join(tmp, "null.pcap")
    wrpcap(null, [Loopback() / IP(src=C4, dst=S4) / UDP()], linktype=0)
    eve = os.path.join(tmp, "x.json")
    cases += [(["--rules", good, "--pcap", whole, "--eve", eve], 0),
              (["--rules", good, "--pcap", cut, "--eve", eve], 1),
              (["--rules", good, "--pcap", null, "--eve", eve], 1),
              (["--rules", good, "--pcap", whole, "--eve", os.path.join(tmp, "no", "x.json")], 1)]
    for args, code in cases:
        r = subprocess.run([soda_ids] + args, capture_output=True, text=True, timeout=30)
        if r.returncode != code:
            errs.append(f"soda-ids {' '.join(args)}: exit {r.returncode}, expected {code}: "
                        f"{r.stderr.strip()}")
        if args[:1] == ["--check"] and code == 1 and r.stderr.count(f"{bad}:2:") != 1:
            errs.append(f"--check of a bad file names its file:line not once: {r.stderr.strip()}")
    return errs


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    soda_ids = sys.argv[1]
    only = set(sys.argv[2:])
    failures = []
    with tempfile.TemporaryDirectory(prefix="kn-pcap-") as tmp:
        all_s = scenarios()
        all_s["udp_icmp_raw"] = all_s["udp_icmp"]
        all_s["tcp_out_of_order_raw"] = all_s["tcp_out_of_order"]
        n = 0
        for name, (pkts, rules, expected, *args) in all_s.items():
            if only and name not in only:
                continue
            fmt = "pcapng" if name in PCAPNG else "raw" if name in RAW else "pcap"
            err = run(soda_ids, name, pkts, rules, expected, fmt, tmp, *args)
            n += 1
            print(("FAIL " if err else "ok   ") + name + f" ({fmt})")
            if err:
                failures.append(err)
        if not only:
            failures += usage_checks(soda_ids, tmp)
    for f in failures:
        print(f, file=sys.stderr)
    print(f"{n} scenarios, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
