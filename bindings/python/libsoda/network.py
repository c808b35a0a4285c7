# SPDX-License-Identifier: LGPL-2.1-or-later
"""The software switch: networks, firewall policies and counters.

    with ctx.create_network("lan") as lan:        # destroyed at the end
        lan.apply_policy("allow from group web to server db tcp port 5432")
        print(lan.counters().servers["db"][NetCounter.DROP_POLICY_IN])

Policies are text (docs/policy.md); parse errors raise SodaError with
.source, .line and .column.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Optional, Tuple, Union

from ._core import Context
from ._ffi import ffi, lib, take_str, to_c, to_opt, to_str
from .enums import NetCounter, NetTotal, as_enum
from .errors import call, check_rc

__all__ = ["Network", "NetworkInfo", "Port", "Policy", "Counters", "RuleCounter",
           "counter_name", "counter_max"]

_NETWORK_OPTIONS_VERSION = 1
_NO_FIREWALL = 1 << 0
_DESTROY_FORCE = 1 << 0
_POLICY_CHECK = 1 << 0


def counter_name(kind: int) -> str:
    """The library's name of a per-server counter kind."""
    return to_str(lib.soda_net_counter_name(int(kind)))


def counter_max() -> int:
    """The highest per-server counter kind this library has."""
    return int(lib.soda_net_counter_max())


class Policy:
    """A parsed firewall policy (immutable)."""

    def __init__(self, text: Union[str, bytes], source: Optional[str] = None) -> None:
        data = text.encode() if isinstance(text, str) else bytes(text)
        p = ffi.new("soda_policy **")
        call(lib.soda_policy_parse, p, data, len(data), to_c(source), 0)
        self._p = ffi.gc(p[0], lib.soda_policy_free)

    @classmethod
    def _take(cls, p: Any) -> "Policy":
        o = cls.__new__(cls)
        o._p = ffi.gc(p, lib.soda_policy_free)
        return o

    @classmethod
    def load(cls, path: str) -> "Policy":
        with open(path, "rb") as f:
            return cls(f.read(), source=path)

    @property
    def text(self) -> str:
        return to_str(lib.soda_policy_get_text(self._p))

    @property
    def rules(self) -> List[str]:
        """The rules written out canonically."""
        return [to_str(lib.soda_policy_get_rule(self._p, i)) for i in range(len(self))]

    def rule_line(self, index: int) -> int:
        """The line rule @index starts on."""
        return int(lib.soda_policy_get_rule_line(self._p, index))

    def __len__(self) -> int:
        return int(lib.soda_policy_get_rule_count(self._p))

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return "Policy(%d rules)" % len(self)


@dataclasses.dataclass(frozen=True)
class Port:
    """A started NIC on a network."""
    server: str
    nic: int
    ifname: str
    mac: str
    addresses: Tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class NetworkInfo:
    bridge: str
    uplink: Optional[str]
    table: str
    firewall: bool
    generation: int
    rule_count: int
    ports: Tuple[Port, ...]
    flood_limit: Tuple[int, int]  # broadcast frames per second and burst per port; 0: none


@dataclasses.dataclass(frozen=True)
class RuleCounter:
    text: str
    packets: int
    bytes: int


@dataclasses.dataclass(frozen=True)
class Counters:
    """A snapshot of a network's counters: per rule (in policy order), per
    server ({name: {NetCounter: (packets, bytes)}}) and network totals."""
    rules: Tuple[RuleCounter, ...]
    servers: Dict[str, Dict[Union[NetCounter, int], Tuple[int, int]]]
    totals: Dict[Union[NetTotal, int], Tuple[int, int]]

    def packets(self, server: str, kind: NetCounter) -> int:
        return self.servers.get(server, {}).get(kind, (0, 0))[0]


class Network:
    """A switch of the context. As a context manager it is destroyed (by
    force) at the end of the block."""

    def __init__(self, ctx: Optional[Context], p: Any) -> None:
        if ctx is None:
            ctx = Context._wrap(lib.soda_network_get_context(p))
        self.context = ctx
        self._p = ffi.gc(p, lib.soda_network_unref)

    @classmethod
    def _create(cls, ctx: Context, name: str, uplink: Optional[str],
                firewall: bool) -> "Network":
        opts = ffi.new("soda_network_options *")
        check_rc(lib.soda_network_options_init(opts, _NETWORK_OPTIONS_VERSION), "options")
        keep = ffi.new("char[]", to_c(uplink)) if uplink is not None else ffi.NULL
        opts.uplink = keep
        p = ffi.new("soda_network **")
        call(lib.soda_network_create, p, ctx._ptr(), to_c(name), opts,
             0 if firewall else _NO_FIREWALL)
        return cls(ctx, p[0])

    @classmethod
    def _lookup(cls, ctx: Context, name: str) -> "Network":
        p = ffi.new("soda_network **")
        call(lib.soda_network_lookup, p, ctx._ptr(), to_c(name))
        return cls(ctx, p[0])

    def __enter__(self) -> "Network":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.destroy(force=True)

    def __repr__(self) -> str:
        return "<Network %s>" % self.name

    def ref(self) -> "Network":
        return Network(None, lib.soda_network_ref(self._p))

    @property
    def name(self) -> str:
        return to_str(lib.soda_network_get_name(self._p))

    def destroy(self, force: bool = False) -> None:
        """Removes the switch; with @force also while servers are on it."""
        call(lib.soda_network_destroy, self._p, _DESTROY_FORCE if force else 0)

    def info(self) -> NetworkInfo:
        p = ffi.new("soda_network_info **")
        call(lib.soda_network_get_info, p, self._p, 0)
        i = p[0]
        try:
            ports = []
            srv = ffi.new("const char **")
            nic = ffi.new("uint32_t *")
            ifn = ffi.new("const char **")
            mac = ffi.new("const char **")
            for k in range(lib.soda_network_info_get_port_count(i)):
                check_rc(lib.soda_network_info_get_port(i, k, srv, nic, ifn, mac), "port")
                addrs = tuple(to_str(lib.soda_network_info_get_port_address(i, k, a))
                              for a in range(lib.soda_network_info_get_port_address_count(i, k)))
                ports.append(Port(to_str(srv[0]), int(nic[0]), to_str(ifn[0]), to_str(mac[0]),
                                  addrs))
            rate = ffi.new("uint32_t *")
            burst = ffi.new("uint32_t *")
            check_rc(lib.soda_network_info_get_flood_limit(i, rate, burst), "flood limit")
            return NetworkInfo(to_str(lib.soda_network_info_get_bridge(i)),
                               to_opt(lib.soda_network_info_get_uplink(i)),
                               to_str(lib.soda_network_info_get_table(i)),
                               bool(lib.soda_network_info_get_firewall(i)),
                               int(lib.soda_network_info_get_generation(i)),
                               int(lib.soda_network_info_get_rule_count(i)),
                               tuple(ports), (int(rate[0]), int(burst[0])))
        finally:
            lib.soda_network_info_free(i)

    def set_flood_limit(self, rate: int, burst: int) -> None:
        """Limits the broadcast and multicast frames each port may send
        (frames per second, and at once above that); rate 0: no limit."""
        call(lib.soda_network_set_flood_limit, self._p, int(rate), int(burst), 0)

    def apply_policy(self, policy: Union[Policy, str], check: bool = False) -> None:
        """Puts @policy in force at once (with @check: only checks it, the
        kernel included). On failure the old policy stays."""
        if not isinstance(policy, Policy):
            policy = Policy(policy)
        call(lib.soda_network_apply_policy, self._p, policy._p, _POLICY_CHECK if check else 0)

    @property
    def policy(self) -> Policy:
        """The policy in force."""
        p = ffi.new("soda_policy **")
        call(lib.soda_network_get_policy, p, self._p)
        return Policy._take(p[0])

    @policy.setter
    def policy(self, policy: Union[Policy, str]) -> None:
        self.apply_policy(policy)

    def compiled(self) -> str:
        """What the kernel holds for the policy: "SET KEY rule N" lines."""
        out = ffi.new("char **")
        call(lib.soda_network_get_compiled, out, self._p, 0)
        return take_str(out[0])

    def counters(self) -> Counters:
        p = ffi.new("soda_net_counters **")
        call(lib.soda_network_get_counters, p, self._p, 0)
        c = p[0]
        pk = ffi.new("uint64_t *")
        by = ffi.new("uint64_t *")
        try:
            rules = []
            for i in range(lib.soda_net_counters_get_rule_count(c)):
                check_rc(lib.soda_net_counters_get_rule(c, i, pk, by), "rule")
                rules.append(RuleCounter(to_str(lib.soda_net_counters_get_rule_text(c, i)),
                                         int(pk[0]), int(by[0])))
            servers: Dict[str, Dict[Union[NetCounter, int], Tuple[int, int]]] = {}
            idx = ffi.new("size_t *")
            for i in range(lib.soda_net_counters_get_server_count(c)):
                name = to_str(lib.soda_net_counters_get_server(c, i))
                check_rc(lib.soda_net_counters_find_server(c, to_c(name), idx), "server")
                kinds = {}
                for k in range(counter_max() + 1):
                    if lib.soda_net_counters_get_server_value(c, idx[0], k, pk, by) == 0:
                        kinds[as_enum(NetCounter, k)] = (int(pk[0]), int(by[0]))
                servers[name] = kinds
            totals = {}
            for k in range(len(NetTotal) + 8):
                if lib.soda_net_counters_get_total(c, k, pk, by) != 0:
                    break
                totals[as_enum(NetTotal, k)] = (int(pk[0]), int(by[0]))
            return Counters(tuple(rules), servers, totals)
        finally:
            lib.soda_net_counters_free(c)
