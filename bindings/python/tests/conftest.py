# SPDX-License-Identifier: LGPL-2.1-or-later
import os
import re

import pytest

import libsoda

TOP = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


@pytest.fixture
def ctx():
    with libsoda.Context("test:///default") as c:
        yield c


@pytest.fixture(scope="session")
def header_defines():
    """Every integer #define SODA_* of include/soda/*.h: {name: value}."""
    out = {}
    inc = os.path.join(TOP, "include", "soda")
    for name in os.listdir(inc):
        if not name.endswith(".h"):
            continue
        with open(os.path.join(inc, name)) as f:
            for m in re.finditer(r"^#define (SODA_[A-Z0-9_]+)\s+\(?(0x[0-9a-fA-F]+|\d+)u?\s*"
                                 r"(?:<<\s*(\d+))?", f.read(), re.M):
                v = int(m.group(2), 0)
                if m.group(3):
                    v <<= int(m.group(3))
                out[m.group(1)] = v
    return out
