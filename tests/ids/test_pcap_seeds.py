#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes the seeds of fuzz-ids-decode (tests/ids/corpus/decode) from the
capture tests' scenarios (test_pcap.py), in fuzz_decode.c's format: link,
options, then (length, seconds, frame) records. Run it again when the
scenarios change:  /usr/bin/python3 tests/ids/test_pcap_seeds.py
"""
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_pcap import scenarios  # noqa: E402
from scapy.all import IP, IPv6  # noqa: E402

LINK_ETHERNET, LINK_RAW = 0, 1  # fuzz_decode.c: KN_LINK_ETHERNET + byte % 6


def seed(frames, link, options):
    out = bytes([link, options])
    for i, f in enumerate(frames):
        out += struct.pack(">HB", len(f), 1 if i == len(frames) // 2 else 0) + f
    return out


def main():
    d = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "decode")
    os.makedirs(d, exist_ok=True)
    for name, (pkts, *_) in scenarios().items():
        eth = [bytes(p) for p in pkts]
        raw = [bytes(p[IP] if IP in p else p[IPv6]) for p in pkts]
        for opts in (0, 7):
            with open(os.path.join(d, f"{name}-eth-{opts}"), "wb") as f:
                f.write(seed(eth, LINK_ETHERNET, opts))
        with open(os.path.join(d, f"{name}-raw"), "wb") as f:
            f.write(seed(raw, LINK_RAW, 1))


if __name__ == "__main__":
    main()
