// SPDX-License-Identifier: LGPL-2.1-or-later

package soda

/*
#include <soda/soda.h>
#include <soda/ids.h>
*/
import "C"

import (
	"os"
	"runtime"
)

// IDSStatKeyName is the library's name of an IDS counter ("packets"), "" if unknown.
func IDSStatKeyName(k IDSStat) string { return goString(C.soda_ids_stats_key_name(C.uint32_t(k))) }

// IDSLandlordAlerts tells whether the landlord may see the metadata of the
// port IDS's alerts (the alerts always go to the tenant's blackbox).
func (c *ServerConfig) IDSLandlordAlerts() bool {
	defer runtime.KeepAlive(c)
	return C.soda_server_config_get_ids_landlord_alerts(c.p) == 1
}

// SetIDSLandlordAlerts lets the landlord see alert metadata, or not.
func (c *ServerConfig) SetIDSLandlordAlerts(allow bool) error {
	var a C.uint32_t
	if allow {
		a = 1
	}
	var e *C.soda_error
	defer runtime.KeepAlive(c)
	return check("ids landlord alerts", C.soda_server_config_set_ids_landlord_alerts(c.p, a, &e), e)
}

// IDSResponse gives the automatic response and the lowest priority number
// it answers (1 is the highest priority).
func (c *ServerConfig) IDSResponse() (IDSResponse, uint32, error) {
	var r, m C.uint32_t
	defer runtime.KeepAlive(c)
	if err := checkRC("ids response", C.soda_server_config_get_ids_response(c.p, &r, &m)); err != nil {
		return 0, 0, err
	}
	return IDSResponse(r), uint32(m), nil
}

// SetIDSResponse responds to alerts of priority minPriority (1..255) or higher.
func (c *ServerConfig) SetIDSResponse(r IDSResponse, minPriority uint32) error {
	var e *C.soda_error
	defer runtime.KeepAlive(c)
	return check("ids response", C.soda_server_config_set_ids_response(c.p, C.uint32_t(r), C.uint32_t(minPriority), &e), e)
}

// IDSBypass is the port IDS's flow bypass depth in bytes (0: off).
func (c *ServerConfig) IDSBypass() uint64 {
	defer runtime.KeepAlive(c)
	return uint64(C.soda_server_config_get_ids_bypass(c.p))
}

// SetIDSBypass has the port IDS stop inspecting a TCP flow once it has
// carried depth bytes of stream either way, and the kernel drop the
// flow's packets before they reach it (docs/ids.md, "Flow bypass"):
// 0 (the default) or 4096..1<<40.
func (c *ServerConfig) SetIDSBypass(depth uint64) error {
	var e *C.soda_error
	defer runtime.KeepAlive(c)
	return check("ids bypass", C.soda_server_config_set_ids_bypass(c.p, C.uint64_t(depth), &e), e)
}

// SetIDSRules gives the IDS inside the guest its rules (docs/ids.md): the
// file is read and checked now and kept in the configuration; "" removes
// them. A bad rule gives an *Error with its Source, Line and Column.
func (c *ServerConfig) SetIDSRules(path string) error {
	p, free := cstringOpt(path)
	defer free()
	var e *C.soda_error
	defer runtime.KeepAlive(c)
	return check("ids rules", C.soda_server_config_set_ids_rules(c.p, p, 0, &e), e)
}

// IDSRulesSHA256 is the SHA-256 of the guest's IDS rules (64 hex digits), "" if none.
func (c *ServerConfig) IDSRulesSHA256() string {
	defer runtime.KeepAlive(c)
	return goString(C.soda_server_config_get_ids_rules_sha256(c.p))
}

// IDSEnable starts the IDS at the running server's first NIC with the rules
// in rulesPath and the variables in varsPath ("" for none); a bad rule
// gives an *Error with its Source, Line and Column.
func (s *Server) IDSEnable(rulesPath, varsPath string) error {
	r, fr := cstring(rulesPath)
	defer fr()
	v, fv := cstringOpt(varsPath)
	defer fv()
	return s.do("ids enable", func(e **C.soda_error) C.int { return C.soda_server_ids_enable(s.p, r, v, 0, e) })
}

// IDSReload swaps the running IDS's rules; a bad set leaves the old in force.
func (s *Server) IDSReload(rulesPath, varsPath string) error {
	r, fr := cstring(rulesPath)
	defer fr()
	v, fv := cstringOpt(varsPath)
	defer fv()
	return s.do("ids reload", func(e **C.soda_error) C.int { return C.soda_server_ids_reload(s.p, r, v, 0, e) })
}

// IDSDisable stops the server's port IDS.
func (s *Server) IDSDisable() error {
	return s.do("ids disable", func(e **C.soda_error) C.int { return C.soda_server_ids_disable(s.p, 0, e) })
}

// IDSStats reads the port IDS's counters.
func (s *Server) IDSStats() (map[IDSStat]uint64, error) {
	var p *C.soda_ids_stats
	if err := s.do("ids stats", func(e **C.soda_error) C.int { return C.soda_server_ids_stats(&p, s.p, 0, e) }); err != nil {
		return nil, err
	}
	defer C.soda_ids_stats_free(p)
	out := map[IDSStat]uint64{}
	for k := 1; C.soda_ids_stats_key_name(C.uint32_t(k)) != nil; k++ {
		var v C.uint64_t
		if C.soda_ids_stats_get(p, C.uint32_t(k), &v) == 0 {
			out[IDSStat(k)] = uint64(v)
		}
	}
	return out, nil
}

// IDSAlerts opens the landlord's alert stream of a running server: JSON
// lines of metadata, appended while it runs (empty unless the
// configuration allows landlord alerts).
func (s *Server) IDSAlerts() (*os.File, error) {
	var fd C.int
	if err := s.do("ids alerts", func(e **C.soda_error) C.int { return C.soda_server_ids_open_alerts(s.p, &fd, 0, e) }); err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), "ids-alerts:"+s.Name()), nil
}
