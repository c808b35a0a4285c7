# SPDX-License-Identifier: LGPL-2.1-or-later
"""Policies without a kernel, and what the test backend says about networks
(the switch itself is tested by it_binding.py, as root)."""

import errno

import pytest

import libsoda
from libsoda import SodaError
from libsoda.enums import NetCounter
from libsoda.network import Policy, counter_max, counter_name

TEXT = ("# shop\n"
        "allow from group web to server db tcp port 5432\n"
        "\n"
        "deny from group web to 203.0.113.0/24\n")


def test_policy_parse():
    p = Policy(TEXT, source="shop.pol")
    assert len(p) == 2 and p.text == TEXT and str(p) == TEXT
    assert p.rules[0].startswith("allow from group web to server db")
    assert p.rule_line(0) == 2 and p.rule_line(1) == 4 and p.rule_line(7) == 0
    assert Policy(b"").rules == []


def test_policy_errors_locate_the_mistake(tmp_path):
    with pytest.raises(SodaError) as e:
        Policy("allow from any to any tcp\nallow frm any to any\n", source="bad.pol")
    err = e.value
    assert err.errno == errno.EINVAL and err.source == "bad.pol"
    assert (err.line, err.column) == (2, 7)
    path = tmp_path / "p.pol"
    path.write_text("allow from any to group web tcp port 99999\n")
    with pytest.raises(SodaError) as e:
        Policy.load(str(path))
    assert e.value.line == 1 and e.value.source == str(path)


def test_counter_names():
    assert counter_max() >= NetCounter.DROPPED
    assert counter_name(NetCounter.DROP_POLICY_IN) == "refused-in"
    for k in range(counter_max() + 1):
        assert counter_name(k) != "unknown"
        assert NetCounter(k).value == k


def test_test_backend_has_no_switch(ctx):
    with pytest.raises(SodaError) as e:
        ctx.create_network("lan")
    assert e.value.errno == errno.EOPNOTSUPP
    with pytest.raises(SodaError):
        ctx.network("lan")
