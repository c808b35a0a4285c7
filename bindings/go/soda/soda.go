// SPDX-License-Identifier: LGPL-2.1-or-later

// Package soda is the Go binding of libsoda.
//
// Build against an installed libsoda (pkg-config libsoda), or point cgo at a
// build tree: CGO_CFLAGS=-I.../include CGO_LDFLAGS="-L.../build -lsoda".
//
// The C library keeps no thread-local state, so goroutines may call it from
// any OS thread. Each Context serialises the calls made through it and its
// servers with a mutex, which is the C library's thread model.
package soda

/*
#cgo LDFLAGS: -lsoda
#include <stdlib.h>
#include <soda/soda.h>

extern int sodaGoEvent(soda_context *ctx, soda_event *ev, void *userdata);

static int soda_go_event_trampoline(soda_context *ctx, const soda_event *ev, void *userdata)
{
	return sodaGoEvent(ctx, (soda_event *)ev, userdata);
}

static int soda_go_add_handler(uint64_t *ret_id, soda_context *ctx, uintptr_t handle,
			       soda_error **error)
{
	return soda_context_add_event_handler(ret_id, ctx, soda_go_event_trampoline,
					      (void *)handle, NULL, 0, error);
}
*/
import "C"

import (
	"fmt"
	"runtime"
	"runtime/cgo"
	"sync"
	"syscall"
	"unsafe"
)

// Server states.
const (
	StateShutoff  = 1
	StateStarting = 2
	StateRunning  = 3
	StatePaused   = 4
	StateStopping = 5
	StateCrashed  = 6
)

// Event kinds.
const (
	EventState     = 1
	EventDefined   = 2
	EventUndefined = 3
)

// Error is a libsoda failure: Code is -errno; Source, Line and Column locate
// bad input where that applies.
type Error struct {
	Code    int
	Message string
	Source  string
	Line    uint32
	Column  uint32
}

func (e *Error) Error() string { return e.Message }

// Errno gives the positive errno, for errors.Is(err, syscall.EBUSY) and the like.
func (e *Error) Errno() syscall.Errno { return syscall.Errno(-e.Code) }

// Is lets errors.Is compare an *Error with a syscall.Errno.
func (e *Error) Is(target error) bool {
	t, ok := target.(syscall.Errno)
	return ok && t == e.Errno()
}

func check(r C.int, e *C.soda_error) error {
	if r >= 0 {
		if e != nil {
			C.soda_error_free(e)
		}
		return nil
	}
	if e == nil {
		return &Error{Code: int(r), Message: syscall.Errno(-r).Error()}
	}
	defer C.soda_error_free(e)
	out := &Error{
		Code:    int(C.soda_error_code(e)),
		Message: C.GoString(C.soda_error_message(e)),
		Line:    uint32(C.soda_error_line(e)),
		Column:  uint32(C.soda_error_column(e)),
	}
	if s := C.soda_error_source(e); s != nil {
		out.Source = C.GoString(s)
	}
	return out
}

func cstr(s string) *C.char {
	if s == "" {
		return nil
	}
	return C.CString(s)
}

func strv(v **C.char, n C.size_t) []string {
	out := make([]string, 0, int(n))
	for _, p := range unsafe.Slice(v, int(n)) {
		out = append(out, C.GoString(p))
	}
	return out
}

// Version is the loaded library's version.
func Version() string { return C.GoString(C.soda_version()) }

// StateName names a state.
func StateName(state int) string { return C.GoString(C.soda_state_name(C.int(state))) }

// Options for Open; the zero value takes every default.
type Options struct {
	StateDir    string
	MonitorPath string
	AgentPath   string
	Netns       string
}

// Event is one state change delivered by Process.
type Event struct {
	Kind     int
	Server   string
	State    int
	Previous int
	Reason   string
}

// Context is a libsoda context.
type Context struct {
	mu       sync.Mutex
	p        *C.soda_context
	handlers map[uint64]cgo.Handle
}

// Open opens a context ("uml:///", "test:///default"; "" for uml:///).
func Open(uri string, opts *Options) (*Context, error) {
	var o C.soda_context_options
	var p *C.soda_context
	var e *C.soda_error

	C.soda_context_options_init(&o, 1)
	var frees []*C.char
	set := func(s string) *C.char {
		c := cstr(s)
		if c != nil {
			frees = append(frees, c)
		}
		return c
	}
	if opts != nil {
		o.state_dir = set(opts.StateDir)
		o.monitor_path = set(opts.MonitorPath)
		o.agent_path = set(opts.AgentPath)
		o.netns = set(opts.Netns)
	}
	curi := set(uri)
	r := C.soda_context_open(&p, curi, &o, 0, &e)
	for _, c := range frees {
		C.free(unsafe.Pointer(c))
	}
	if err := check(r, e); err != nil {
		return nil, err
	}
	c := &Context{p: p, handlers: map[uint64]cgo.Handle{}}
	runtime.SetFinalizer(c, (*Context).Close)
	return c, nil
}

// Close drops the context; servers keep running.
func (c *Context) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.p != nil {
		C.soda_context_unref(c.p)
		c.p = nil
	}
	for id, h := range c.handlers {
		h.Delete()
		delete(c.handlers, id)
	}
}

// Servers lists the servers' names.
func (c *Context) Servers() ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var v **C.char
	var n C.size_t
	var e *C.soda_error
	if err := check(C.soda_context_list_servers(&v, &n, c.p, 0, &e), e); err != nil {
		return nil, err
	}
	defer C.soda_strv_free(v)
	return strv(v, n), nil
}

// Fd is the descriptor to watch; call Process when it is readable.
func (c *Context) Fd() int { return int(C.soda_context_get_fd(c.p)) }

//export sodaGoEvent
func sodaGoEvent(ctx *C.soda_context, ev *C.soda_event, userdata unsafe.Pointer) C.int {
	fn := cgo.Handle(userdata).Value().(func(Event))
	fn(Event{
		Kind:     int(C.soda_event_get_kind(ev)),
		Server:   C.GoString(C.soda_event_get_server(ev)),
		State:    int(C.soda_event_get_state(ev)),
		Previous: int(C.soda_event_get_previous_state(ev)),
		Reason:   C.GoString(C.soda_event_get_reason(ev)),
	})
	return 0
}

// OnEvent calls fn for each event Process delivers; returns the handler's id.
func (c *Context) OnEvent(fn func(Event)) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := cgo.NewHandle(fn)
	var id C.uint64_t
	var e *C.soda_error
	if err := check(C.soda_go_add_handler(&id, c.p, C.uintptr_t(h), &e), e); err != nil {
		h.Delete()
		return 0, err
	}
	c.handlers[uint64(id)] = h
	return uint64(id), nil
}

// Process delivers pending events; returns how many.
func (c *Context) Process() (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var e *C.soda_error
	r := C.soda_context_process(c.p, 0, &e)
	return int(r), check(r, e)
}

// Wait waits up to timeoutMs (-1: forever) for events, then processes them.
func (c *Context) Wait(timeoutMs int) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var e *C.soda_error
	r := C.soda_context_wait(c.p, C.int32_t(timeoutMs), 0, &e)
	return int(r), check(r, e)
}

// ServerConfig is a server's configuration under construction.
type ServerConfig struct {
	p    *C.soda_server_config
	nics int
}

// NewServerConfig starts a configuration with defaults.
func NewServerConfig(name string) (*ServerConfig, error) {
	var p *C.soda_server_config
	var e *C.soda_error
	n := C.CString(name)
	defer C.free(unsafe.Pointer(n))
	if err := check(C.soda_server_config_new(&p, n, &e), e); err != nil {
		return nil, err
	}
	cfg := &ServerConfig{p: p}
	runtime.SetFinalizer(cfg, func(c *ServerConfig) { C.soda_server_config_free(c.p) })
	return cfg, nil
}

// SetImage names the image the server boots.
func (c *ServerConfig) SetImage(image string) error {
	var e *C.soda_error
	s := C.CString(image)
	defer C.free(unsafe.Pointer(s))
	return check(C.soda_server_config_set_image(c.p, s, &e), e)
}

// SetMemoryMiB sets the guest's memory.
func (c *ServerConfig) SetMemoryMiB(mib uint64) error {
	var e *C.soda_error
	return check(C.soda_server_config_set_memory(c.p, C.uint64_t(mib<<20), &e), e)
}

// AddLabel tags the server for firewall groups.
func (c *ServerConfig) AddLabel(label string) error {
	var e *C.soda_error
	s := C.CString(label)
	defer C.free(unsafe.Pointer(s))
	return check(C.soda_server_config_add_label(c.p, s, &e), e)
}

// SetBlackbox seals the server's blackbox to the tenant's X25519 public key
// (32 bytes); sign is the tenant's Ed25519 public key, or nil.
func (c *ServerConfig) SetBlackbox(box, sign []byte) error {
	if len(box) != 32 || (sign != nil && len(sign) != 32) {
		return &Error{Code: -int(syscall.EINVAL), Message: "a blackbox key is 32 bytes"}
	}
	var e *C.soda_error
	var sp *C.uint8_t
	if sign != nil {
		sp = (*C.uint8_t)(C.CBytes(sign))
		defer C.free(unsafe.Pointer(sp))
	}
	bp := (*C.uint8_t)(C.CBytes(box))
	defer C.free(unsafe.Pointer(bp))
	return check(C.soda_server_config_set_blackbox(c.p, bp, sp, &e), e)
}

// Blackbox returns the tenant's X25519 public key, or nil if the server has
// no blackbox.
func (c *ServerConfig) Blackbox() []byte {
	out := (*C.uint8_t)(C.malloc(32))
	defer C.free(unsafe.Pointer(out))
	if C.soda_server_config_get_blackbox(c.p, out) == 0 {
		return nil
	}
	return C.GoBytes(unsafe.Pointer(out), 32)
}

// SetShares sets resource shares from their text form.
func (c *ServerConfig) SetShares(text string) error {
	var sh *C.soda_shares
	var e *C.soda_error
	s := C.CString(text)
	defer C.free(unsafe.Pointer(s))
	if err := check(C.soda_shares_parse(&sh, s, &e), e); err != nil {
		return err
	}
	defer C.soda_shares_free(sh)
	e = nil
	return check(C.soda_server_config_set_shares(c.p, sh, &e), e)
}

// Server is a virtual server of a context.
type Server struct {
	ctx *Context
	p   *C.soda_server
}

func (c *Context) wrap(p *C.soda_server) *Server {
	s := &Server{ctx: c, p: p}
	runtime.SetFinalizer(s, func(s *Server) { C.soda_server_unref(s.p) })
	return s
}

// Define records a new server.
func (c *Context) Define(cfg *ServerConfig) (*Server, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var p *C.soda_server
	var e *C.soda_error
	if err := check(C.soda_server_define(&p, c.p, cfg.p, 0, &e), e); err != nil {
		return nil, err
	}
	return c.wrap(p), nil
}

// Lookup finds a server by name.
func (c *Context) Lookup(name string) (*Server, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var p *C.soda_server
	var e *C.soda_error
	n := C.CString(name)
	defer C.free(unsafe.Pointer(n))
	if err := check(C.soda_server_lookup(&p, c.p, n, &e), e); err != nil {
		return nil, err
	}
	return c.wrap(p), nil
}

// Name is the server's name.
func (s *Server) Name() string { return C.GoString(C.soda_server_get_name(s.p)) }

// State is the server's current state.
func (s *Server) State() (int, error) {
	s.ctx.mu.Lock()
	defer s.ctx.mu.Unlock()
	var st C.int
	var e *C.soda_error
	err := check(C.soda_server_get_state(&st, s.p, &e), e)
	return int(st), err
}

func (s *Server) do(f func(e **C.soda_error) C.int) error {
	s.ctx.mu.Lock()
	defer s.ctx.mu.Unlock()
	var e *C.soda_error
	return check(f(&e), e)
}

// Start boots the server; with wait, returns once the guest is ready.
func (s *Server) Start(wait bool) error {
	flags := C.uint(0)
	if wait {
		flags = 1
	}
	return s.do(func(e **C.soda_error) C.int { return C.soda_server_start(s.p, flags, e) })
}

// Stop shuts the server down, by force after timeoutMs.
func (s *Server) Stop(timeoutMs uint32) error {
	return s.do(func(e **C.soda_error) C.int { return C.soda_server_stop(s.p, C.uint32_t(timeoutMs), 0, e) })
}

// Kill ends the server at once.
func (s *Server) Kill() error {
	return s.do(func(e **C.soda_error) C.int { return C.soda_server_kill(s.p, 0, e) })
}

// Freeze stops all of the server's processes.
func (s *Server) Freeze() error {
	return s.do(func(e **C.soda_error) C.int { return C.soda_server_freeze(s.p, 0, e) })
}

// Thaw resumes a frozen server.
func (s *Server) Thaw() error {
	return s.do(func(e **C.soda_error) C.int { return C.soda_server_thaw(s.p, 0, e) })
}

// Undefine forgets a stopped server.
func (s *Server) Undefine() error {
	return s.do(func(e **C.soda_error) C.int { return C.soda_server_undefine(s.p, 0, e) })
}

// Stats returns a running server's statistics by name ("cpu_usec", ...).
func (s *Server) Stats() (map[string]uint64, error) {
	s.ctx.mu.Lock()
	defer s.ctx.mu.Unlock()
	var st *C.soda_stats
	var e *C.soda_error
	if err := check(C.soda_server_get_stats(&st, s.p, 0, &e), e); err != nil {
		return nil, err
	}
	defer C.soda_stats_free(st)
	out := map[string]uint64{}
	for k := 1; k <= C.SODA_STAT_MAX; k++ {
		var v C.uint64_t
		if C.soda_stats_get(st, C.int(k), &v) == 0 {
			out[C.GoString(C.soda_stats_key_name(C.int(k)))] = uint64(v)
		}
	}
	return out, nil
}

func (e Event) String() string {
	return fmt.Sprintf("%s %s -> %s (%s)", e.Server, StateName(e.Previous), StateName(e.State), e.Reason)
}
