// SPDX-License-Identifier: LGPL-2.1-or-later

package soda

/*
#include <stdlib.h>
#include <soda/soda.h>
#include <soda/network.h>

#include "callbacks.h"
*/
import "C"

import (
	"context"
	"runtime"
	"runtime/cgo"
	"sync"
	"time"
	"unsafe"
)

// Options for Open; the zero value takes every default.
type Options struct {
	StateDir string // default: the URI's "state" query, else the backend's (uml: /var/lib/soda)
	Netns    string // the guests' network namespace (name or path); "": the caller's
	// DriverOptions are the backend's settings, "key=value": its URI query
	// keys (docs/backends/NAME.md; uml: binary, monitor, agent, uid_base,
	// uid_count, cgroup_parent), e.g. "agent=/usr/libexec/soda-agent".
	DriverOptions []string
	// Log receives the library's messages (called on the calling goroutine's
	// thread, during the call that logs); nil: dropped.
	Log      func(level LogLevel, message string)
	LogLevel LogLevel // highest level passed to Log; 0: LogInfo
}

// Context is a libsoda context: one per host or state directory.
type Context struct {
	mu    sync.Mutex
	p     *C.soda_context
	logH  cgo.Handle
	queue []Event
	qid   uint64
	qset  bool
}

// Open opens a context: "uml:///" ("" means it), "uml:///?state=DIR", or
// "test:///default" (in memory, for tests).
func Open(uri string, opts *Options) (*Context, error) {
	var o C.soda_context_options
	if err := checkRC("options", C.soda_context_options_init(&o, 2)); err != nil {
		return nil, err
	}
	var frees []func()
	defer func() {
		for _, f := range frees {
			f()
		}
	}()
	set := func(s string) *C.char {
		c, free := cstringOpt(s)
		frees = append(frees, free)
		return c
	}
	c := &Context{}
	if opts != nil {
		o.state_dir = set(opts.StateDir)
		o.netns = set(opts.Netns)
		if len(opts.DriverOptions) > 0 {
			n := len(opts.DriverOptions) + 1
			arr := (*[1 << 20]*C.char)(C.calloc(C.size_t(n), C.size_t(unsafe.Sizeof((*C.char)(nil)))))[:n:n]
			frees = append(frees, func() { C.free(unsafe.Pointer(&arr[0])) })
			for i, kv := range opts.DriverOptions {
				arr[i] = C.CString(kv)
				p := arr[i]
				frees = append(frees, func() { C.free(unsafe.Pointer(p)) })
			}
			o.driver_options = (**C.char)(unsafe.Pointer(&arr[0]))
		}
		o.log_level = C.int32_t(opts.LogLevel)
		if opts.Log != nil {
			c.logH = cgo.NewHandle(opts.Log)
			C.soda_go_set_log(&o, C.uintptr_t(c.logH))
		}
	}
	var e *C.soda_error
	if err := check("open", C.soda_context_open(&c.p, set(uri), &o, 0, &e), e); err != nil {
		if c.logH != 0 {
			c.logH.Delete()
		}
		return nil, err
	}
	runtime.SetFinalizer(c, (*Context).Close)
	return c, nil
}

// wrapContext gives a Context holding a new reference on p (for objects
// that only know their C context). Its calls are serialised apart from
// the Context p was opened with.
func wrapContext(p *C.soda_context) *Context {
	c := &Context{p: C.soda_context_ref(p)}
	runtime.SetFinalizer(c, (*Context).Close)
	return c
}

//export sodaGoLog
func sodaGoLog(level C.int, message *C.char, userdata unsafe.Pointer) {
	fn := cgo.Handle(userdata).Value().(func(LogLevel, string))
	fn(LogLevel(level), C.GoString(message))
}

// Close drops the context. Servers keep running; Server and Network
// values hold the C context until they go.
func (c *Context) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.p != nil {
		C.soda_context_unref(c.p)
		c.p = nil
		if c.logH != 0 {
			c.logH.Delete()
			c.logH = 0
		}
	}
	return nil
}

func (c *Context) lock() (*C.soda_context, error) {
	c.mu.Lock()
	if c.p == nil {
		c.mu.Unlock()
		return nil, newError("context", 9 /* EBADF */, "the context is closed")
	}
	return c.p, nil
}

// URI is the URI the context was opened with.
func (c *Context) URI() string {
	p, err := c.lock()
	if err != nil {
		return ""
	}
	defer c.mu.Unlock()
	return goString(C.soda_context_get_uri(p))
}

// StateDir is the state directory ("" for backends without one).
func (c *Context) StateDir() string {
	p, err := c.lock()
	if err != nil {
		return ""
	}
	defer c.mu.Unlock()
	return goString(C.soda_context_get_state_dir(p))
}

// Netns is the path of the guests' network namespace, "" for the caller's.
func (c *Context) Netns() string {
	p, err := c.lock()
	if err != nil {
		return ""
	}
	defer c.mu.Unlock()
	return goString(C.soda_context_get_netns(p))
}

// Recover cleans up after dead monitors now; returns how many servers.
func (c *Context) Recover() (int, error) {
	p, err := c.lock()
	if err != nil {
		return 0, err
	}
	defer c.mu.Unlock()
	var e *C.soda_error
	r := C.soda_context_recover(p, 0, &e)
	return int(r), check("recover", r, e)
}

// Servers lists the servers' names, sorted.
func (c *Context) Servers() ([]string, error) {
	p, err := c.lock()
	if err != nil {
		return nil, err
	}
	defer c.mu.Unlock()
	var v **C.char
	var n C.size_t
	var e *C.soda_error
	if err := check("list servers", C.soda_context_list_servers(&v, &n, p, 0, &e), e); err != nil {
		return nil, err
	}
	return takeStrv(v, n), nil
}

// Networks lists the networks' names, sorted.
func (c *Context) Networks() ([]string, error) {
	p, err := c.lock()
	if err != nil {
		return nil, err
	}
	defer c.mu.Unlock()
	var v **C.char
	var n C.size_t
	var e *C.soda_error
	if err := check("list networks", C.soda_context_list_networks(&v, &n, p, 0, &e), e); err != nil {
		return nil, err
	}
	return takeStrv(v, n), nil
}

// ---- images ----

// Images lists the image store's names, sorted.
func (c *Context) Images() ([]string, error) {
	p, err := c.lock()
	if err != nil {
		return nil, err
	}
	defer c.mu.Unlock()
	var v **C.char
	var n C.size_t
	var e *C.soda_error
	if err := check("list images", C.soda_image_list(&v, &n, p, 0, &e), e); err != nil {
		return nil, err
	}
	return takeStrv(v, n), nil
}

// ImageOptions tune BuildImage.
type ImageOptions struct {
	Source  string // a directory, tarball or ext4 file; "" for ImageSourceBusybox
	Size    uint64 // file system bytes; 0: what the content needs
	Replace bool   // replace an image of that name no server uses
}

// BuildImage builds image name from a source of the given kind.
func (c *Context) BuildImage(name string, kind ImageSource, opts *ImageOptions) error {
	if opts == nil {
		opts = &ImageOptions{}
	}
	n, fn := cstring(name)
	defer fn()
	s, fs := cstringOpt(opts.Source)
	defer fs()
	var flags C.uint
	if opts.Replace {
		flags |= C.SODA_IMAGE_REPLACE
	}
	p, err := c.lock()
	if err != nil {
		return err
	}
	defer c.mu.Unlock()
	var e *C.soda_error
	return check("build image", C.soda_image_build(p, n, C.int(kind), s, C.uint64_t(opts.Size), flags, &e), e)
}

// RemoveImage removes an image no server uses.
func (c *Context) RemoveImage(name string) error {
	n, fn := cstring(name)
	defer fn()
	p, err := c.lock()
	if err != nil {
		return err
	}
	defer c.mu.Unlock()
	var e *C.soda_error
	return check("remove image", C.soda_image_remove(p, n, 0, &e), e)
}

// ImagePath is the path of an image's file.
func (c *Context) ImagePath(name string) (string, error) {
	n, fn := cstring(name)
	defer fn()
	p, err := c.lock()
	if err != nil {
		return "", err
	}
	defer c.mu.Unlock()
	var out *C.char
	var e *C.soda_error
	if err := check("image path", C.soda_image_get_path(&out, p, n, &e), e); err != nil {
		return "", err
	}
	return takeString(out), nil
}

// ---- events ----

// Event is one event the context delivers.
type Event struct {
	Kind     EventKind
	Server   string
	State    State // the new state (EventState)
	Previous State // the previous state, 0 if unknown
	Reason   string
}

func (e Event) String() string {
	if e.Kind == EventState {
		return e.Server + ": " + e.Previous.String() + " -> " + e.State.String() + " (" + e.Reason + ")"
	}
	if e.Reason != "" {
		return e.Server + ": " + e.Kind.String() + " (" + e.Reason + ")"
	}
	return e.Server + ": " + e.Kind.String()
}

// StateName is the library's name of a state.
func StateName(s State) string { return C.GoString(C.soda_state_name(C.int(s))) }

//export sodaGoEvent
func sodaGoEvent(ctx *C.soda_context, ev *C.soda_event, userdata unsafe.Pointer) C.int {
	fn := cgo.Handle(userdata).Value().(func(Event))
	fn(Event{
		Kind:     EventKind(C.soda_event_get_kind(ev)),
		Server:   goString(C.soda_event_get_server(ev)),
		State:    State(C.soda_event_get_state(ev)),
		Previous: State(C.soda_event_get_previous_state(ev)),
		Reason:   goString(C.soda_event_get_reason(ev)),
	})
	return 0
}

// Fd is a descriptor that is readable when Process has work.
func (c *Context) Fd() (int, error) {
	p, err := c.lock()
	if err != nil {
		return -1, err
	}
	defer c.mu.Unlock()
	fd := C.soda_context_get_fd(p)
	return int(fd), checkRC("fd", fd)
}

// OnEvent calls fn for each event Process, Wait and NextEvent deliver
// (fn runs with the context's lock held: it must not call the context).
// Returns the handler's id for RemoveHandler.
func (c *Context) OnEvent(fn func(Event)) (uint64, error) {
	p, err := c.lock()
	if err != nil {
		return 0, err
	}
	defer c.mu.Unlock()
	return c.addHandler(p, fn)
}

func (c *Context) addHandler(p *C.soda_context, fn func(Event)) (uint64, error) {
	h := cgo.NewHandle(fn)
	var id C.uint64_t
	var e *C.soda_error
	if err := check("add event handler", C.soda_go_add_handler(&id, p, C.uintptr_t(h), &e), e); err != nil {
		h.Delete()
		return 0, err
	}
	return uint64(id), nil
}

// RemoveHandler removes an event handler.
func (c *Context) RemoveHandler(id uint64) error {
	p, err := c.lock()
	if err != nil {
		return err
	}
	defer c.mu.Unlock()
	var e *C.soda_error
	return check("remove event handler", C.soda_context_remove_event_handler(p, C.uint64_t(id), &e), e)
}

// Process dispatches pending events to the handlers without blocking;
// returns how many.
func (c *Context) Process() (int, error) {
	p, err := c.lock()
	if err != nil {
		return 0, err
	}
	defer c.mu.Unlock()
	var e *C.soda_error
	r := C.soda_context_process(p, 0, &e)
	return int(r), check("process", r, e)
}

// slice is how long one blocking C call may run before ctx is looked at again.
const slice = 100 * time.Millisecond

func sliceOf(ctx context.Context, limit time.Duration) time.Duration {
	d := slice
	if limit >= 0 && limit < d {
		d = limit
	}
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < d {
			d = left
		}
	}
	if d < 0 {
		d = 0
	}
	return d
}

// Wait waits for events until ctx is done or timeout passes (negative: no
// limit) and dispatches them; returns how many (0 on timeout, with ctx's
// error if ctx ended it).
func (c *Context) Wait(ctx context.Context, timeout time.Duration) (int, error) {
	var end time.Time
	if timeout >= 0 {
		end = time.Now().Add(timeout)
	}
	for {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		left := time.Duration(-1)
		if timeout >= 0 {
			left = time.Until(end)
			if left < 0 {
				left = 0
			}
		}
		d := sliceOf(ctx, left)
		p, err := c.lock()
		if err != nil {
			return 0, err
		}
		var e *C.soda_error
		r := C.soda_context_wait(p, ms(d), 0, &e)
		c.mu.Unlock()
		if err := check("wait", r, e); err != nil || r > 0 {
			return int(r), err
		}
		if timeout >= 0 && !time.Now().Before(end) {
			return 0, nil
		}
	}
}

// NextEvent returns the next event, waiting for it until ctx is done.
func (c *Context) NextEvent(ctx context.Context) (Event, error) {
	for {
		p, err := c.lock()
		if err != nil {
			return Event{}, err
		}
		if !c.qset {
			id, err := c.addHandler(p, func(e Event) { c.queue = append(c.queue, e) })
			if err != nil {
				c.mu.Unlock()
				return Event{}, err
			}
			c.qid, c.qset = id, true
		}
		if len(c.queue) > 0 {
			ev := c.queue[0]
			c.queue = c.queue[1:]
			c.mu.Unlock()
			return ev, nil
		}
		c.mu.Unlock()
		if _, err := c.Wait(ctx, slice); err != nil {
			return Event{}, err
		}
	}
}

// Events delivers events on a channel until ctx is done (then the channel
// closes). Only one Events or NextEvent caller per context at a time.
// Events are what the library notices when it looks again at the state
// (Process, Wait, and the waits inside calls): a state that lasts is
// always reported, one that came and went between two looks may not be.
func (c *Context) Events(ctx context.Context) <-chan Event {
	ch := make(chan Event)
	go func() {
		defer close(ch)
		for {
			ev, err := c.NextEvent(ctx)
			if err != nil {
				return
			}
			select {
			case ch <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch
}
