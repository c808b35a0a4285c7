// SPDX-License-Identifier: LGPL-2.1-or-later

package soda

/*
#include <stdlib.h>
#include <soda/network.h>
*/
import "C"

import (
	"os"
	"runtime"
	"unsafe"
)

// CounterName is the library's name of a per-server counter kind.
func CounterName(k NetCounter) string { return goString(C.soda_net_counter_name(C.int(k))) }

// CounterMax is the highest per-server counter kind of the loaded library.
func CounterMax() NetCounter { return NetCounter(C.soda_net_counter_max()) }

// ---- policies ----

// Policy is a parsed firewall policy (immutable; safe to share).
type Policy struct{ p *C.soda_policy }

func takePolicy(p *C.soda_policy) *Policy {
	pol := &Policy{p: p}
	runtime.SetFinalizer(pol, func(pol *Policy) { C.soda_policy_free(pol.p) })
	return pol
}

// ParsePolicy checks a policy's syntax (docs/policy.md); errors carry the
// source, line and column. source names the text in errors ("" for "policy").
func ParsePolicy(text, source string) (*Policy, error) {
	src, free := cstringOpt(source)
	defer free()
	var t *C.char
	if len(text) > 0 {
		t = (*C.char)(C.CBytes([]byte(text)))
		defer C.free(unsafe.Pointer(t))
	}
	var p *C.soda_policy
	var e *C.soda_error
	if err := check("parse policy", C.soda_policy_parse(&p, t, C.size_t(len(text)), src, 0, &e), e); err != nil {
		return nil, err
	}
	return takePolicy(p), nil
}

// LoadPolicy parses a policy file.
func LoadPolicy(path string) (*Policy, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParsePolicy(string(b), path)
}

// Text is the policy as it was given.
func (p *Policy) Text() string {
	defer runtime.KeepAlive(p)
	return goString(C.soda_policy_get_text(p.p))
}

func (p *Policy) String() string { return p.Text() }

// Len is the number of rules.
func (p *Policy) Len() int {
	defer runtime.KeepAlive(p)
	return int(C.soda_policy_get_rule_count(p.p))
}

// Rules are the rules written out canonically.
func (p *Policy) Rules() []string {
	defer runtime.KeepAlive(p)
	out := make([]string, p.Len())
	for i := range out {
		out[i] = goString(C.soda_policy_get_rule(p.p, C.size_t(i)))
	}
	return out
}

// RuleLine is the line rule i starts on (0 for a bad index).
func (p *Policy) RuleLine(i int) int {
	defer runtime.KeepAlive(p)
	return int(C.soda_policy_get_rule_line(p.p, C.size_t(i)))
}

// ---- networks ----

// Network is a switch of a context; its calls go through the context's lock.
type Network struct {
	ctx *Context
	p   *C.soda_network
}

func (c *Context) wrapNetwork(p *C.soda_network) *Network {
	n := &Network{ctx: c, p: p}
	runtime.SetFinalizer(n, func(n *Network) {
		n.ctx.mu.Lock()
		C.soda_network_unref(n.p)
		n.ctx.mu.Unlock()
	})
	return n
}

// NetworkOptions tune CreateNetwork.
type NetworkOptions struct {
	Uplink     string // an interface to enslave as the way out; "": none
	NoFirewall bool   // a plain switch: no invisibility, anti-spoofing or policy
}

// CreateNetwork makes a switch (default policy: nothing passes).
func (c *Context) CreateNetwork(name string, opts *NetworkOptions) (*Network, error) {
	if opts == nil {
		opts = &NetworkOptions{}
	}
	var o C.soda_network_options
	if err := checkRC("network options", C.soda_network_options_init(&o, 1)); err != nil {
		return nil, err
	}
	up, fu := cstringOpt(opts.Uplink)
	defer fu()
	o.uplink = up
	n, fn := cstring(name)
	defer fn()
	var flags C.uint
	if opts.NoFirewall {
		flags = C.SODA_NETWORK_NO_FIREWALL
	}
	p, err := c.lock()
	if err != nil {
		return nil, err
	}
	defer c.mu.Unlock()
	var np *C.soda_network
	var e *C.soda_error
	if err := check("create network", C.soda_network_create(&np, p, n, &o, flags, &e), e); err != nil {
		return nil, err
	}
	return c.wrapNetwork(np), nil
}

// LookupNetwork finds a network by name (os.ErrNotExist if none).
func (c *Context) LookupNetwork(name string) (*Network, error) {
	n, fn := cstring(name)
	defer fn()
	p, err := c.lock()
	if err != nil {
		return nil, err
	}
	defer c.mu.Unlock()
	var np *C.soda_network
	var e *C.soda_error
	if err := check("lookup network", C.soda_network_lookup(&np, p, n, &e), e); err != nil {
		return nil, err
	}
	return c.wrapNetwork(np), nil
}

func (n *Network) do(op string, f func(e **C.soda_error) C.int) error {
	n.ctx.mu.Lock()
	defer n.ctx.mu.Unlock()
	var e *C.soda_error
	defer runtime.KeepAlive(n)
	return check(op, f(&e), e)
}

// Ref gives another Network value on the same switch, with a Context of its own.
func (n *Network) Ref() *Network {
	n.ctx.mu.Lock()
	p := C.soda_network_ref(n.p)
	c := wrapContext(C.soda_network_get_context(p))
	n.ctx.mu.Unlock()
	runtime.KeepAlive(n)
	return c.wrapNetwork(p)
}

// Name is the network's name.
func (n *Network) Name() string {
	defer runtime.KeepAlive(n)
	return goString(C.soda_network_get_name(n.p))
}

// Destroy removes the switch; force: also while servers are attached.
// Close is Destroy(true), for defer.
func (n *Network) Destroy(force bool) error {
	var flags C.uint
	if force {
		flags = C.SODA_NETWORK_DESTROY_FORCE
	}
	return n.do("destroy network", func(e **C.soda_error) C.int { return C.soda_network_destroy(n.p, flags, e) })
}

// Close destroys the network by force (io.Closer).
func (n *Network) Close() error { return n.Destroy(true) }

// Port is a started NIC on a network.
type Port struct {
	Server    string
	NIC       int
	Ifname    string
	MAC       string
	Addresses []string
}

// NetworkInfo is a snapshot of a network.
type NetworkInfo struct {
	Bridge     string
	Uplink     string
	Table      string
	Firewall   bool
	Generation uint64
	RuleCount  int
	Ports      []Port
	FloodRate  uint32 // broadcast and multicast frames per second per port; 0: no limit
	FloodBurst uint32
}

// Info gives a snapshot of the network.
func (n *Network) Info() (NetworkInfo, error) {
	var p *C.soda_network_info
	if err := n.do("network info", func(e **C.soda_error) C.int { return C.soda_network_get_info(&p, n.p, 0, e) }); err != nil {
		return NetworkInfo{}, err
	}
	defer C.soda_network_info_free(p)
	info := NetworkInfo{
		Bridge:     goString(C.soda_network_info_get_bridge(p)),
		Uplink:     goString(C.soda_network_info_get_uplink(p)),
		Table:      goString(C.soda_network_info_get_table(p)),
		Firewall:   C.soda_network_info_get_firewall(p) != 0,
		Generation: uint64(C.soda_network_info_get_generation(p)),
		RuleCount:  int(C.soda_network_info_get_rule_count(p)),
	}
	var rate, burst C.uint32_t
	if err := checkRC("flood limit", C.soda_network_info_get_flood_limit(p, &rate, &burst)); err != nil {
		return NetworkInfo{}, err
	}
	info.FloodRate, info.FloodBurst = uint32(rate), uint32(burst)
	for i := 0; i < int(C.soda_network_info_get_port_count(p)); i++ {
		var srv, ifn, mac *C.char
		var nic C.uint32_t
		if C.soda_network_info_get_port(p, C.size_t(i), &srv, &nic, &ifn, &mac) != 0 {
			continue
		}
		port := Port{Server: goString(srv), NIC: int(nic), Ifname: goString(ifn), MAC: goString(mac)}
		for a := 0; a < int(C.soda_network_info_get_port_address_count(p, C.size_t(i))); a++ {
			port.Addresses = append(port.Addresses, goString(C.soda_network_info_get_port_address(p, C.size_t(i), C.size_t(a))))
		}
		info.Ports = append(info.Ports, port)
	}
	return info, nil
}

// SetFloodLimit limits the broadcast and multicast frames each port may
// send: rate per second, burst at once above it; rate 0: no limit.
func (n *Network) SetFloodLimit(rate, burst uint32) error {
	return n.do("flood limit", func(e **C.soda_error) C.int {
		return C.soda_network_set_flood_limit(n.p, C.uint32_t(rate), C.uint32_t(burst), 0, e)
	})
}

// ApplyPolicy puts pol in force at once; checkOnly: only check it (the
// kernel included). On failure the policy in force stays.
func (n *Network) ApplyPolicy(pol *Policy, checkOnly bool) error {
	var flags C.uint
	if checkOnly {
		flags = C.SODA_POLICY_CHECK
	}
	defer runtime.KeepAlive(pol)
	return n.do("apply policy", func(e **C.soda_error) C.int { return C.soda_network_apply_policy(n.p, pol.p, flags, e) })
}

// Policy gives the policy in force.
func (n *Network) Policy() (*Policy, error) {
	var p *C.soda_policy
	if err := n.do("policy", func(e **C.soda_error) C.int { return C.soda_network_get_policy(&p, n.p, e) }); err != nil {
		return nil, err
	}
	return takePolicy(p), nil
}

// Compiled is what the kernel holds for the policy: "SET KEY rule N" lines.
func (n *Network) Compiled() (string, error) {
	var out *C.char
	if err := n.do("compiled", func(e **C.soda_error) C.int { return C.soda_network_get_compiled(&out, n.p, 0, e) }); err != nil {
		return "", err
	}
	return takeString(out), nil
}

// Count is packets and bytes.
type Count struct{ Packets, Bytes uint64 }

// RuleCount is a rule's canonical text and what it decided.
type RuleCount struct {
	Rule string
	Count
}

// Counters is a snapshot of a network's counters.
type Counters struct {
	Rules   []RuleCount                     // in policy order
	Servers map[string]map[NetCounter]Count // per server, per kind
	Totals  map[NetTotal]Count
}

// Counters reads the network's counters.
func (n *Network) Counters() (*Counters, error) {
	var p *C.soda_net_counters
	if err := n.do("counters", func(e **C.soda_error) C.int { return C.soda_network_get_counters(&p, n.p, 0, e) }); err != nil {
		return nil, err
	}
	defer C.soda_net_counters_free(p)
	out := &Counters{Servers: map[string]map[NetCounter]Count{}, Totals: map[NetTotal]Count{}}
	var pk, by C.uint64_t
	for i := 0; i < int(C.soda_net_counters_get_rule_count(p)); i++ {
		if C.soda_net_counters_get_rule(p, C.size_t(i), &pk, &by) == 0 {
			out.Rules = append(out.Rules, RuleCount{goString(C.soda_net_counters_get_rule_text(p, C.size_t(i))), Count{uint64(pk), uint64(by)}})
		}
	}
	max := int(C.soda_net_counter_max())
	for i := 0; i < int(C.soda_net_counters_get_server_count(p)); i++ {
		name := goString(C.soda_net_counters_get_server(p, C.size_t(i)))
		cn, free := cstring(name)
		var idx C.size_t
		r := C.soda_net_counters_find_server(p, cn, &idx)
		free()
		if r != 0 {
			continue
		}
		kinds := map[NetCounter]Count{}
		for k := 0; k <= max; k++ {
			if C.soda_net_counters_get_server_value(p, idx, C.int(k), &pk, &by) == 0 {
				kinds[NetCounter(k)] = Count{uint64(pk), uint64(by)}
			}
		}
		out.Servers[name] = kinds
	}
	for k := 0; C.soda_net_counters_get_total(p, C.int(k), &pk, &by) == 0; k++ {
		out.Totals[NetTotal(k)] = Count{uint64(pk), uint64(by)}
	}
	return out, nil
}

// Server gives one server's count of a kind (zero if absent).
func (c *Counters) Server(name string, kind NetCounter) Count { return c.Servers[name][kind] }
