// SPDX-License-Identifier: LGPL-2.1-or-later

package soda

/*
#include <stdlib.h>
#include <soda/soda.h>
*/
import "C"

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// ---- shares ----

// Shares are a server's resource shares: CPU weight and cap, CPUs, memory
// backstop, process limit, bandwidth. Not safe for concurrent use.
type Shares struct{ p *C.soda_shares }

func takeShares(p *C.soda_shares) *Shares {
	s := &Shares{p: p}
	runtime.SetFinalizer(s, func(s *Shares) { C.soda_shares_free(s.p) })
	return s
}

// NewShares gives shares with every value at its default.
func NewShares() (*Shares, error) {
	var p *C.soda_shares
	var e *C.soda_error
	if err := check("new shares", C.soda_shares_new(&p, &e), e); err != nil {
		return nil, err
	}
	return takeShares(p), nil
}

// ParseShares reads "cpu.weight=300 cpu.max=20% net.out=20Mbit"...; errors
// give the column.
func ParseShares(text string) (*Shares, error) {
	t, free := cstring(text)
	defer free()
	var p *C.soda_shares
	var e *C.soda_error
	if err := check("parse shares", C.soda_shares_parse(&p, t, &e), e); err != nil {
		return nil, err
	}
	return takeShares(p), nil
}

// Copy gives an independent copy.
func (s *Shares) Copy() (*Shares, error) {
	var p *C.soda_shares
	var e *C.soda_error
	if err := check("copy shares", C.soda_shares_copy(&p, s.p, &e), e); err != nil {
		return nil, err
	}
	runtime.KeepAlive(s)
	return takeShares(p), nil
}

// String gives the text ParseShares reads back.
func (s *Shares) String() string {
	var out *C.char
	var e *C.soda_error
	if err := check("format shares", C.soda_shares_format(&out, s.p, &e), e); err != nil {
		return "<" + err.Error() + ">"
	}
	runtime.KeepAlive(s)
	return takeString(out)
}

// SetCPUWeight sets the proportional weight, 1..10000.
func (s *Shares) SetCPUWeight(w uint32) error {
	var e *C.soda_error
	defer runtime.KeepAlive(s)
	return check("cpu weight", C.soda_shares_set_cpu_weight(s.p, C.uint32_t(w), &e), e)
}

// SetCPUMax caps CPU time at percent of one CPU; 0 removes the cap.
func (s *Shares) SetCPUMax(percent uint32) error {
	var e *C.soda_error
	defer runtime.KeepAlive(s)
	return check("cpu max", C.soda_shares_set_cpu_max(s.p, C.uint32_t(percent), &e), e)
}

// SetCPUs pins the server to a CPU list ("0-3,6"); "" for all.
func (s *Shares) SetCPUs(cpus string) error {
	c, free := cstringOpt(cpus)
	defer free()
	var e *C.soda_error
	defer runtime.KeepAlive(s)
	return check("cpus", C.soda_shares_set_cpus(s.p, c, &e), e)
}

// SetMemoryMax sets the host memory backstop in bytes; 0: the default.
func (s *Shares) SetMemoryMax(bytes uint64) error {
	var e *C.soda_error
	defer runtime.KeepAlive(s)
	return check("memory max", C.soda_shares_set_memory_max(s.p, C.uint64_t(bytes), &e), e)
}

// SetPidsMax sets the host process limit; 0: the default.
func (s *Shares) SetPidsMax(n uint32) error {
	var e *C.soda_error
	defer runtime.KeepAlive(s)
	return check("pids max", C.soda_shares_set_pids_max(s.p, C.uint32_t(n), &e), e)
}

// SetBandwidth limits a direction to rate bits per second (0: no limit);
// burst 0: the default.
func (s *Shares) SetBandwidth(d Direction, rateBps, burstBytes uint64) error {
	var e *C.soda_error
	defer runtime.KeepAlive(s)
	return check("bandwidth", C.soda_shares_set_bandwidth(s.p, C.int(d), C.uint64_t(rateBps), C.uint64_t(burstBytes), &e), e)
}

// CPUWeight is the proportional weight.
func (s *Shares) CPUWeight() uint32 {
	defer runtime.KeepAlive(s)
	return uint32(C.soda_shares_get_cpu_weight(s.p))
}

// CPUMax is the cap in percent of one CPU, 0 if none.
func (s *Shares) CPUMax() uint32 {
	defer runtime.KeepAlive(s)
	return uint32(C.soda_shares_get_cpu_max(s.p))
}

// CPUs is the CPU list, "" for all.
func (s *Shares) CPUs() string {
	defer runtime.KeepAlive(s)
	return goString(C.soda_shares_get_cpus(s.p))
}

// MemoryMax is the backstop, 0 meaning the default.
func (s *Shares) MemoryMax() uint64 {
	defer runtime.KeepAlive(s)
	return uint64(C.soda_shares_get_memory_max(s.p))
}

// PidsMax is the process limit, 0 meaning the default.
func (s *Shares) PidsMax() uint32 {
	defer runtime.KeepAlive(s)
	return uint32(C.soda_shares_get_pids_max(s.p))
}

// Bandwidth gives a direction's rate (bits per second) and burst (bytes).
func (s *Shares) Bandwidth(d Direction) (rateBps, burstBytes uint64, err error) {
	var r, b C.uint64_t
	defer runtime.KeepAlive(s)
	if err := checkRC("bandwidth", C.soda_shares_get_bandwidth(s.p, C.int(d), &r, &b)); err != nil {
		return 0, 0, err
	}
	return uint64(r), uint64(b), nil
}

// StatKeyName is the library's name of a statistic key ("cpu_usec"), "" if unknown.
func StatKeyName(k Stat) string { return goString(C.soda_stats_key_name(C.int(k))) }

// ---- configurations ----

// ServerConfig is a server's configuration; setters check their input at
// once. Not safe for concurrent use.
type ServerConfig struct{ p *C.soda_server_config }

func takeConfig(p *C.soda_server_config) *ServerConfig {
	c := &ServerConfig{p: p}
	runtime.SetFinalizer(c, func(c *ServerConfig) { C.soda_server_config_free(c.p) })
	return c
}

// NewServerConfig starts a configuration with defaults (image "busybox",
// 64 MiB, no shares, no NICs).
func NewServerConfig(name string) (*ServerConfig, error) {
	n, free := cstring(name)
	defer free()
	var p *C.soda_server_config
	var e *C.soda_error
	if err := check("new config", C.soda_server_config_new(&p, n, &e), e); err != nil {
		return nil, err
	}
	return takeConfig(p), nil
}

// Copy gives a deep copy.
func (c *ServerConfig) Copy() (*ServerConfig, error) {
	var p *C.soda_server_config
	var e *C.soda_error
	defer runtime.KeepAlive(c)
	if err := check("copy config", C.soda_server_config_copy(&p, c.p, &e), e); err != nil {
		return nil, err
	}
	return takeConfig(p), nil
}

func (c *ServerConfig) setString(op string, s string, f func(*C.char, **C.soda_error) C.int) error {
	cs, free := cstring(s)
	defer free()
	var e *C.soda_error
	defer runtime.KeepAlive(c)
	return check(op, f(cs, &e), e)
}

// Name is the server's name.
func (c *ServerConfig) Name() string {
	defer runtime.KeepAlive(c)
	return goString(C.soda_server_config_get_name(c.p))
}

// Image is the image's name.
func (c *ServerConfig) Image() string {
	defer runtime.KeepAlive(c)
	return goString(C.soda_server_config_get_image(c.p))
}

// SetImage names the image the server boots.
func (c *ServerConfig) SetImage(image string) error {
	return c.setString("image", image, func(s *C.char, e **C.soda_error) C.int {
		return C.soda_server_config_set_image(c.p, s, e)
	})
}

// Memory is the guest's memory in bytes.
func (c *ServerConfig) Memory() uint64 {
	defer runtime.KeepAlive(c)
	return uint64(C.soda_server_config_get_memory(c.p))
}

// SetMemory sets the guest's memory in bytes (a multiple of 1 MiB).
func (c *ServerConfig) SetMemory(bytes uint64) error {
	var e *C.soda_error
	defer runtime.KeepAlive(c)
	return check("memory", C.soda_server_config_set_memory(c.p, C.uint64_t(bytes), &e), e)
}

// KernelArgs are the extra guest kernel command-line words.
func (c *ServerConfig) KernelArgs() []string {
	defer runtime.KeepAlive(c)
	n := int(C.soda_server_config_get_kernel_arg_count(c.p))
	out := make([]string, n)
	for i := range out {
		out[i] = goString(C.soda_server_config_get_kernel_arg(c.p, C.size_t(i)))
	}
	return out
}

// AddKernelArg appends a guest kernel command-line word.
func (c *ServerConfig) AddKernelArg(arg string) error {
	return c.setString("kernel arg", arg, func(s *C.char, e **C.soda_error) C.int {
		return C.soda_server_config_add_kernel_arg(c.p, s, e)
	})
}

// Share is a host directory shared into the guest.
type Share struct {
	HostDir, GuestDir string
	Flags             ShareFlags
}

// Shares lists the shared directories.
func (c *ServerConfig) SharedDirs() []Share {
	defer runtime.KeepAlive(c)
	n := int(C.soda_server_config_get_share_count(c.p))
	out := make([]Share, 0, n)
	for i := 0; i < n; i++ {
		var h, g *C.char
		var f C.uint
		if C.soda_server_config_get_share(c.p, C.size_t(i), &h, &g, &f) == 0 {
			out = append(out, Share{goString(h), goString(g), ShareFlags(f)})
		}
	}
	return out
}

// AddShare shares hostDir into the guest at guestDir. Sensitive host
// directories give os.ErrPermission unless flags has ShareAllowSensitive.
func (c *ServerConfig) AddShare(hostDir, guestDir string, flags ShareFlags) error {
	h, fh := cstring(hostDir)
	defer fh()
	g, fg := cstring(guestDir)
	defer fg()
	var e *C.soda_error
	defer runtime.KeepAlive(c)
	return check("share", C.soda_server_config_add_share(c.p, h, g, C.uint(flags), &e), e)
}

// NIC is a network interface of a configuration.
type NIC struct {
	Network   string
	MAC       string
	Addresses []string
}

// NICs lists the network interfaces.
func (c *ServerConfig) NICs() []NIC {
	defer runtime.KeepAlive(c)
	n := int(C.soda_server_config_get_nic_count(c.p))
	out := make([]NIC, 0, n)
	for i := 0; i < n; i++ {
		var net, mac *C.char
		if C.soda_server_config_get_nic(c.p, C.size_t(i), &net, &mac) != 0 {
			continue
		}
		nic := NIC{Network: goString(net), MAC: goString(mac)}
		for j := 0; j < int(C.soda_server_config_get_nic_address_count(c.p, C.size_t(i))); j++ {
			nic.Addresses = append(nic.Addresses, goString(C.soda_server_config_get_nic_address(c.p, C.size_t(i), C.size_t(j))))
		}
		out = append(out, nic)
	}
	return out
}

// AddNIC adds a NIC on network ("" mac: derived) with addresses
// ("198.51.100.7/24"); returns its index.
func (c *ServerConfig) AddNIC(network, mac string, addresses ...string) (int, error) {
	n, fn := cstring(network)
	defer fn()
	m, fm := cstringOpt(mac)
	defer fm()
	var e *C.soda_error
	defer runtime.KeepAlive(c)
	if err := check("nic", C.soda_server_config_add_nic(c.p, n, m, 0, &e), e); err != nil {
		return -1, err
	}
	index := int(C.soda_server_config_get_nic_count(c.p)) - 1
	for _, a := range addresses {
		if err := c.AddNICAddress(index, a); err != nil {
			return index, err
		}
	}
	return index, nil
}

// AddNICAddress gives NIC index an address in CIDR form.
func (c *ServerConfig) AddNICAddress(index int, cidr string) error {
	return c.setString("nic address", cidr, func(s *C.char, e **C.soda_error) C.int {
		return C.soda_server_config_add_nic_address(c.p, C.size_t(index), s, e)
	})
}

// BlackboxRetention gives what the blackbox store does at its quota, and
// the quota in bytes (0: the default).
func (c *ServerConfig) BlackboxRetention() (Retention, uint64) {
	defer runtime.KeepAlive(c)
	var q C.uint64_t
	p := C.soda_server_config_get_blackbox_retention(c.p, &q)
	return Retention(p), uint64(q)
}

// SetBlackboxRetention sets the blackbox store's policy at its quota and
// the quota (at least 1 MiB; 0: 1 GiB).
func (c *ServerConfig) SetBlackboxRetention(p Retention, quotaBytes uint64) error {
	var e *C.soda_error
	defer runtime.KeepAlive(c)
	return check("blackbox retention", C.soda_server_config_set_blackbox_retention(c.p, C.uint32_t(p), C.uint64_t(quotaBytes), &e), e)
}

// RetentionName is the library's name of a retention policy, "" if unknown.
func RetentionName(p Retention) string {
	return goString(C.soda_blackbox_retention_name(C.uint32_t(p)))
}

// RetentionFromName is the retention policy called name ("stop", "drop-oldest").
func RetentionFromName(name string) (Retention, error) {
	n, free := cstring(name)
	defer free()
	var out C.uint32_t
	var e *C.soda_error
	if err := check("retention", C.soda_blackbox_retention_from_name(&out, n, &e), e); err != nil {
		return 0, err
	}
	return Retention(out), nil
}

// GuestProfile is what root in the guest may do to its kernel (locked by default).
func (c *ServerConfig) GuestProfile() GuestProfile {
	defer runtime.KeepAlive(c)
	return GuestProfile(C.soda_server_config_get_guest_profile(c.p))
}

// SetGuestProfile sets the guest profile.
func (c *ServerConfig) SetGuestProfile(p GuestProfile) error {
	var e *C.soda_error
	defer runtime.KeepAlive(c)
	return check("guest profile", C.soda_server_config_set_guest_profile(c.p, C.uint32_t(p), &e), e)
}

// GuestProfileName is the library's name of a profile, "" if unknown.
func GuestProfileName(p GuestProfile) string {
	return goString(C.soda_guest_profile_name(C.uint32_t(p)))
}

// GuestProfileFromName is the profile called name ("locked", "open").
func GuestProfileFromName(name string) (GuestProfile, error) {
	n, free := cstring(name)
	defer free()
	var out C.uint32_t
	var e *C.soda_error
	if err := check("guest profile", C.soda_guest_profile_from_name(&out, n, &e), e); err != nil {
		return 0, err
	}
	return GuestProfile(out), nil
}

// Labels are the server's labels (policy groups).
func (c *ServerConfig) Labels() []string {
	defer runtime.KeepAlive(c)
	n := int(C.soda_server_config_get_label_count(c.p))
	out := make([]string, n)
	for i := range out {
		out[i] = goString(C.soda_server_config_get_label(c.p, C.size_t(i)))
	}
	return out
}

// AddLabel tags the server for firewall groups.
func (c *ServerConfig) AddLabel(label string) error {
	return c.setString("label", label, func(s *C.char, e **C.soda_error) C.int {
		return C.soda_server_config_add_label(c.p, s, e)
	})
}

// Shares gives a copy of the configuration's shares.
func (c *ServerConfig) Shares() (*Shares, error) {
	var p *C.soda_shares
	var e *C.soda_error
	defer runtime.KeepAlive(c)
	if err := check("shares", C.soda_server_config_get_shares(&p, c.p, &e), e); err != nil {
		return nil, err
	}
	return takeShares(p), nil
}

// SetShares copies s into the configuration.
func (c *ServerConfig) SetShares(s *Shares) error {
	var e *C.soda_error
	defer runtime.KeepAlive(c)
	defer runtime.KeepAlive(s)
	return check("shares", C.soda_server_config_set_shares(c.p, s.p, &e), e)
}

// SetBlackbox seals the server's blackbox to the tenant's 32-byte X25519
// public key (sign: the Ed25519 public key, or nil).
func (c *ServerConfig) SetBlackbox(box, sign []byte) error {
	if len(box) != 32 || (sign != nil && len(sign) != 32) {
		return newError("blackbox", syscall.EINVAL, "a blackbox public key is 32 bytes")
	}
	var sp *C.uint8_t
	if sign != nil {
		sp = (*C.uint8_t)(unsafe.Pointer(&sign[0]))
	}
	var e *C.soda_error
	defer runtime.KeepAlive(c)
	return check("blackbox", C.soda_server_config_set_blackbox(c.p, (*C.uint8_t)(unsafe.Pointer(&box[0])), sp, &e), e)
}

// Blackbox gives the tenant's X25519 public key, nil without a blackbox.
func (c *ServerConfig) Blackbox() []byte {
	out := make([]byte, 32)
	defer runtime.KeepAlive(c)
	if C.soda_server_config_get_blackbox(c.p, (*C.uint8_t)(unsafe.Pointer(&out[0]))) == 0 {
		return nil
	}
	return out
}

// ---- servers ----

// Server is a virtual server of a context. Its calls go through the
// context's lock.
type Server struct {
	ctx *Context
	p   *C.soda_server
}

func (c *Context) wrapServer(p *C.soda_server) *Server {
	s := &Server{ctx: c, p: p}
	runtime.SetFinalizer(s, func(s *Server) {
		s.ctx.mu.Lock()
		C.soda_server_unref(s.p)
		s.ctx.mu.Unlock()
	})
	return s
}

// Define records a new server (shut off) from cfg.
func (c *Context) Define(cfg *ServerConfig) (*Server, error) {
	p, err := c.lock()
	if err != nil {
		return nil, err
	}
	defer c.mu.Unlock()
	var sp *C.soda_server
	var e *C.soda_error
	if err := check("define", C.soda_server_define(&sp, p, cfg.p, 0, &e), e); err != nil {
		return nil, err
	}
	runtime.KeepAlive(cfg)
	return c.wrapServer(sp), nil
}

// Lookup finds a server by name (os.ErrNotExist if none).
func (c *Context) Lookup(name string) (*Server, error) {
	n, free := cstring(name)
	defer free()
	p, err := c.lock()
	if err != nil {
		return nil, err
	}
	defer c.mu.Unlock()
	var sp *C.soda_server
	var e *C.soda_error
	if err := check("lookup", C.soda_server_lookup(&sp, p, n, &e), e); err != nil {
		return nil, err
	}
	return c.wrapServer(sp), nil
}

func (s *Server) do(op string, f func(e **C.soda_error) C.int) error {
	s.ctx.mu.Lock()
	defer s.ctx.mu.Unlock()
	var e *C.soda_error
	defer runtime.KeepAlive(s)
	return check(op, f(&e), e)
}

// Ref gives another Server value on the same server, with a Context of
// its own (its calls are serialised apart from s's).
func (s *Server) Ref() *Server {
	s.ctx.mu.Lock()
	p := C.soda_server_ref(s.p)
	c := wrapContext(C.soda_server_get_context(p))
	s.ctx.mu.Unlock()
	runtime.KeepAlive(s)
	return c.wrapServer(p)
}

// Context is the context the server was obtained from.
func (s *Server) Context() *Context { return s.ctx }

// Name is the server's name.
func (s *Server) Name() string {
	defer runtime.KeepAlive(s)
	return goString(C.soda_server_get_name(s.p))
}

// Config gives a copy of the server's configuration.
func (s *Server) Config() (*ServerConfig, error) {
	var p *C.soda_server_config
	if err := s.do("config", func(e **C.soda_error) C.int { return C.soda_server_get_config(&p, s.p, e) }); err != nil {
		return nil, err
	}
	return takeConfig(p), nil
}

// State is the server's current state.
func (s *Server) State() (State, error) {
	var st C.int
	err := s.do("state", func(e **C.soda_error) C.int { return C.soda_server_get_state(&st, s.p, e) })
	return State(st), err
}

// Info is a snapshot of a server's run-time facts.
type Info struct {
	State      State
	Ready      bool
	MonitorPID int
	GuestPID   int
	UID        uint32
	Started    time.Time     // start of this (or the last) run
	ReadyAfter time.Duration // from start to ready, 0 if not ready
	ExitCode   int           // of the last run's linux.uml, -1 if none
	ExitSignal int
	Reason     string
}

// Info gives the server's run-time facts.
func (s *Server) Info() (Info, error) {
	var p *C.soda_server_info
	if err := s.do("info", func(e **C.soda_error) C.int { return C.soda_server_get_info(&p, s.p, 0, e) }); err != nil {
		return Info{}, err
	}
	defer C.soda_server_info_free(p)
	started := uint64(C.soda_server_info_get_started_usec(p))
	return Info{
		State:      State(C.soda_server_info_get_state(p)),
		Ready:      C.soda_server_info_get_ready(p) != 0,
		MonitorPID: int(C.soda_server_info_get_monitor_pid(p)),
		GuestPID:   int(C.soda_server_info_get_guest_pid(p)),
		UID:        uint32(C.soda_server_info_get_uid(p)),
		Started:    time.UnixMicro(int64(started)),
		ReadyAfter: time.Duration(C.soda_server_info_get_ready_usec(p)) * time.Microsecond,
		ExitCode:   int(C.soda_server_info_get_exit_code(p)),
		ExitSignal: int(C.soda_server_info_get_exit_signal(p)),
		Reason:     goString(C.soda_server_info_get_reason(p)),
	}, nil
}

// Start boots the server. With waitReady it returns once the guest says
// it is ready, or when ctx is done (the server is then left starting).
func (s *Server) Start(ctx context.Context, waitReady bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.do("start", func(e **C.soda_error) C.int { return C.soda_server_start(s.p, 0, e) }); err != nil {
		return err
	}
	if !waitReady {
		return nil
	}
	return s.WaitState(ctx, StateRunning, 30*time.Second)
}

// WaitState waits until the server is in state, for at most timeout
// (negative: no limit) and while ctx is not done. Errors: syscall.ETIMEDOUT,
// syscall.ECHILD if it ended while waiting for a running state, ctx.Err().
func (s *Server) WaitState(ctx context.Context, state State, timeout time.Duration) error {
	var end time.Time
	if timeout >= 0 {
		end = time.Now().Add(timeout)
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		left := time.Duration(-1)
		if timeout >= 0 {
			left = time.Until(end)
			if left < 0 {
				left = 0
			}
		}
		d := sliceOf(ctx, left)
		err := s.do("wait state", func(e **C.soda_error) C.int {
			return C.soda_server_wait_state(s.p, C.int(state), ms(d), 0, e)
		})
		if err == nil || !isErrno(err, syscall.ETIMEDOUT) {
			return err
		}
		if timeout >= 0 && !time.Now().Before(end) {
			return err
		}
	}
}

func isErrno(err error, errno syscall.Errno) bool {
	e, ok := err.(*Error)
	return ok && e.Errno == errno
}

func graceOf(ctx context.Context, grace time.Duration) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < grace {
			grace = left
		}
	}
	if grace < 0 {
		grace = 0
	}
	return grace
}

// Stop asks the guest to shut down and ends it by force after grace (or
// at ctx's deadline, if sooner). It returns when the server is shut off.
func (s *Server) Stop(ctx context.Context, grace time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	g := graceOf(ctx, grace)
	return s.do("stop", func(e **C.soda_error) C.int {
		return C.soda_server_stop(s.p, C.uint32_t(ms(g)), 0, e)
	})
}

// Restart stops (as Stop) and starts again.
func (s *Server) Restart(ctx context.Context, grace time.Duration, waitReady bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	g := graceOf(ctx, grace)
	var flags C.uint
	if waitReady {
		flags = C.SODA_START_WAIT_READY
	}
	return s.do("restart", func(e **C.soda_error) C.int {
		return C.soda_server_restart(s.p, C.uint32_t(ms(g)), flags, e)
	})
}

// Kill ends the server at once.
func (s *Server) Kill() error {
	return s.do("kill", func(e **C.soda_error) C.int { return C.soda_server_kill(s.p, 0, e) })
}

// Freeze freezes every process of the server.
func (s *Server) Freeze() error {
	return s.do("freeze", func(e **C.soda_error) C.int { return C.soda_server_freeze(s.p, 0, e) })
}

// Thaw resumes a frozen server.
func (s *Server) Thaw() error {
	return s.do("thaw", func(e **C.soda_error) C.int { return C.soda_server_thaw(s.p, 0, e) })
}

// Undefine forgets a shut-off or crashed server.
func (s *Server) Undefine() error {
	return s.do("undefine", func(e **C.soda_error) C.int { return C.soda_server_undefine(s.p, 0, e) })
}

// Dump writes a forensic dump into dir, which must not exist yet.
func (s *Server) Dump(dir string, memory bool) error {
	d, free := cstring(dir)
	defer free()
	var flags C.uint
	if memory {
		flags = C.SODA_DUMP_MEMORY
	}
	return s.do("dump", func(e **C.soda_error) C.int { return C.soda_server_dump(s.p, d, flags, e) })
}

// SetShares changes the server's shares, live if it runs; all or nothing.
func (s *Server) SetShares(sh *Shares) error {
	defer runtime.KeepAlive(sh)
	return s.do("set shares", func(e **C.soda_error) C.int { return C.soda_server_set_shares(s.p, sh.p, 0, e) })
}

// Stats gives a running server's statistics; keys the host cannot tell are absent.
func (s *Server) Stats() (map[Stat]uint64, error) {
	var p *C.soda_stats
	if err := s.do("stats", func(e **C.soda_error) C.int { return C.soda_server_get_stats(&p, s.p, 0, e) }); err != nil {
		return nil, err
	}
	defer C.soda_stats_free(p)
	out := map[Stat]uint64{}
	for k := 1; C.soda_stats_key_name(C.int(k)) != nil; k++ {
		var v C.uint64_t
		if C.soda_stats_get(p, C.int(k), &v) == 0 {
			out[Stat(k)] = uint64(v)
		}
	}
	return out, nil
}

// BlackboxDir is the directory of the server's blackbox store.
func (s *Server) BlackboxDir() (string, error) {
	var out *C.char
	if err := s.do("blackbox dir", func(e **C.soda_error) C.int { return C.soda_server_get_blackbox_dir(&out, s.p, e) }); err != nil {
		return "", err
	}
	return takeString(out), nil
}

// Console is a connection to a guest's console: Read gives its output
// (recent history first), Write types into it. It is a net.Conn, so
// deadlines work.
type Console struct{ net.Conn }

// OpenConsole connects to the guest's console.
func (s *Server) OpenConsole() (*Console, error) {
	var fd C.int
	if err := s.do("console", func(e **C.soda_error) C.int { return C.soda_server_open_console(&fd, s.p, 0, e) }); err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "console:"+s.Name())
	defer f.Close()
	conn, err := net.FileConn(f)
	if err != nil {
		return nil, err
	}
	return &Console{conn}, nil
}

// ExecOptions say how Run runs a command. The zero value runs it as root
// in root's home, stdin /dev/null, its output thrown away, no time limit
// but the context's.
type ExecOptions struct {
	Env    []string  // "NAME=VALUE" entries added to the command's environment
	User   string    // a user name or decimal uid in the guest; "": root
	Dir    string    // an absolute directory; "": the user's home
	Stdin  io.Reader // nil: none
	Stdout io.Writer // nil: discarded
	Stderr io.Writer // nil: discarded

	merged bool // Exec: stderr into Stdout's pipe, in the order written
}

// ExecResult is how a command ended: its exit status (0-255), or the
// signal that ended it (Status -1).
type ExecResult struct {
	Status int
	Signal int
}

// cstrv is a C array of C strings, NULL-terminated, and its release.
func cstrv(words []string) (**C.char, func()) {
	arr := (**C.char)(C.calloc(C.size_t(len(words)+1), C.size_t(unsafe.Sizeof((*C.char)(nil)))))
	sl := unsafe.Slice(arr, len(words)+1)
	for i, w := range words {
		sl[i] = C.CString(w)
	}
	return arr, func() {
		for i := range words {
			C.free(unsafe.Pointer(sl[i]))
		}
		C.free(unsafe.Pointer(arr))
	}
}

// Run runs argv in the guest through its agent (soda_server_exec), not the
// console: the exact status, stdout and stderr apart and binary-safe,
// nothing in the console's recording (the tenant's blackbox records that
// the landlord ran it). The context's deadline is the command's timeout
// (it is killed; the error is the context's). Run holds s's context for
// the command's duration: run commands at once on Ref()s.
func (s *Server) Run(ctx context.Context, argv []string, o *ExecOptions) (ExecResult, error) {
	if o == nil {
		o = &ExecOptions{}
	}
	if len(argv) == 0 {
		return ExecResult{}, fmt.Errorf("soda: exec: %w", syscall.EINVAL)
	}
	var copts C.soda_exec_options
	if err := checkRC("exec options", C.soda_exec_options_init(&copts, 1)); err != nil {
		return ExecResult{}, err
	}
	cargv, freeArgv := cstrv(argv)
	defer freeArgv()
	if len(o.Env) > 0 {
		cenv, freeEnv := cstrv(o.Env)
		defer freeEnv()
		copts.env = cenv
	}
	if o.User != "" {
		u, free := cstring(o.User)
		defer free()
		copts.user = u
	}
	if o.Dir != "" {
		d, free := cstring(o.Dir)
		defer free()
		copts.cwd = d
	}
	if dl, ok := ctx.Deadline(); ok {
		ms := time.Until(dl).Milliseconds()
		if ms < 1 {
			return ExecResult{}, context.DeadlineExceeded
		}
		if ms > 1<<31 {
			ms = 1 << 31
		}
		copts.timeout_ms = C.uint32_t(ms)
	}
	// Pipes, each drained by a goroutine while the C call blocks.
	var wg sync.WaitGroup
	var closeAfter []*os.File
	var copyErr error
	var mu sync.Mutex
	out := func(w io.Writer, field *C.int32_t) error {
		if w == nil {
			return nil
		}
		r, wr, err := os.Pipe()
		if err != nil {
			return err
		}
		*field = C.int32_t(wr.Fd())
		closeAfter = append(closeAfter, wr)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.Close()
			if _, err := io.Copy(w, r); err != nil {
				mu.Lock()
				copyErr = err
				mu.Unlock()
				io.Copy(io.Discard, r)
			}
		}()
		return nil
	}
	if err := out(o.Stdout, &copts.stdout_fd); err != nil {
		return ExecResult{}, err
	}
	if o.merged {
		copts.stderr_fd = copts.stdout_fd
	} else if err := out(o.Stderr, &copts.stderr_fd); err != nil {
		return ExecResult{}, err
	}
	if o.Stdin != nil {
		r, w, err := os.Pipe()
		if err != nil {
			return ExecResult{}, err
		}
		copts.stdin_fd = C.int32_t(r.Fd())
		closeAfter = append(closeAfter, r)
		go func() {
			io.Copy(w, o.Stdin)
			w.Close()
		}()
	}
	var status C.int
	err := s.do("exec", func(e **C.soda_error) C.int {
		return C.soda_server_exec(&status, s.p, cargv, &copts, 0, e)
	})
	for _, f := range closeAfter {
		f.Close()
	}
	wg.Wait()
	if err != nil {
		if ctx.Err() != nil {
			return ExecResult{}, ctx.Err()
		}
		// The guest's timer was the context's deadline.
		if _, ok := ctx.Deadline(); ok && errors.Is(err, syscall.ETIMEDOUT) {
			return ExecResult{}, fmt.Errorf("%w: %v", context.DeadlineExceeded, err)
		}
		return ExecResult{}, err
	}
	if copyErr != nil {
		return ExecResult{}, copyErr
	}
	return ExecResult{Status: int(C.soda_exec_status_code(status)),
		Signal: int(C.soda_exec_status_signal(status))}, nil
}

// Exec runs a shell command line (sh -c) in the guest through its agent
// and returns its exit status (128 + N when signal N ended it) and what it
// printed, stdout and stderr together. The context's deadline is its
// timeout.
func (s *Server) Exec(ctx context.Context, command string) (int, string, error) {
	var buf bytes.Buffer
	r, err := s.Run(ctx, []string{"sh", "-c", command}, &ExecOptions{Stdout: &buf, merged: true})
	if err != nil {
		return -1, "", s.execErr(ctx, err)
	}
	status := r.Status
	if r.Signal != 0 {
		status = 128 + r.Signal
	}
	return status, buf.String(), nil
}

func (s *Server) execErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("soda: exec on %s: %w", s.Name(), err)
}
