// SPDX-License-Identifier: LGPL-2.1-or-later

package soda

/*
#include <stdlib.h>
#include <soda/blackbox.h>

#include "callbacks.h"
*/
import "C"

import (
	"context"
	"errors"
	"io"
	"os"
	"runtime"
	"runtime/cgo"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// RecordTypeName is the library's name of a record type ("console-out"), "" if unknown.
func RecordTypeName(t RecordType) string { return goString(C.soda_blackbox_type_name(C.uint32_t(t))) }

// RecordTypeFromName is the record type of a name, 0 if none.
func RecordTypeFromName(name string) RecordType {
	n, free := cstring(name)
	defer free()
	return RecordType(C.soda_blackbox_type_from_name(n))
}

// FindingKindName is the library's name of a finding kind ("seq-gap"), "" if unknown.
func FindingKindName(k FindingKind) string {
	return goString(C.soda_blackbox_finding_kind_name(C.uint32_t(k)))
}

func bytesPtr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(&b[0])
}

// ---- keys ----

// Key is a tenant or factory key, public only or with its secret (kept by
// the library in locked memory, wiped by Close or the finalizer). Safe for
// concurrent use.
type Key struct {
	mu sync.Mutex
	p  *C.soda_blackbox_key
}

func takeKey(p *C.soda_blackbox_key) *Key {
	k := &Key{p: p}
	runtime.SetFinalizer(k, (*Key).Close)
	return k
}

// Close wipes and frees the key.
func (k *Key) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	C.soda_blackbox_key_free(k.p)
	k.p = nil
	return nil
}

func (k *Key) ptr() (*C.soda_blackbox_key, error) {
	k.mu.Lock()
	if k.p == nil {
		k.mu.Unlock()
		return nil, newError("key", syscall.EBADF, "the key is closed")
	}
	return k.p, nil
}

// GenerateKey makes a new key pair.
func GenerateKey(t KeyType) (*Key, error) {
	var p *C.soda_blackbox_key
	var e *C.soda_error
	if err := check("generate key", C.soda_blackbox_key_generate(&p, C.uint32_t(t), 0, &e), e); err != nil {
		return nil, err
	}
	return takeKey(p), nil
}

// LoadKey reads a key file; a secret key file others may read gives
// os.ErrPermission.
func LoadKey(path string) (*Key, error) {
	c, free := cstring(path)
	defer free()
	var p *C.soda_blackbox_key
	var e *C.soda_error
	if err := check("load key", C.soda_blackbox_key_load(&p, c, 0, &e), e); err != nil {
		return nil, err
	}
	return takeKey(p), nil
}

// ParseKey reads a key file's text; source names it in errors.
func ParseKey(text []byte, source string) (*Key, error) {
	src, free := cstringOpt(source)
	defer free()
	t := C.CBytes(text)
	defer C.free(t)
	var p *C.soda_blackbox_key
	var e *C.soda_error
	if err := check("parse key", C.soda_blackbox_key_parse(&p, (*C.char)(t), C.size_t(len(text)), src, 0, &e), e); err != nil {
		return nil, err
	}
	return takeKey(p), nil
}

// KeyFromPublic makes a public key from its raw parts (32 bytes each; sign may be nil).
func KeyFromPublic(t KeyType, box, sign []byte) (*Key, error) {
	if (box != nil && len(box) != 32) || (sign != nil && len(sign) != 32) {
		return nil, newError("key from public", syscall.EINVAL, "a public key is 32 bytes")
	}
	var p *C.soda_blackbox_key
	var e *C.soda_error
	if err := check("key from public", C.soda_blackbox_key_from_public(&p, C.uint32_t(t), (*C.uint8_t)(bytesPtr(box)), (*C.uint8_t)(bytesPtr(sign)), 0, &e), e); err != nil {
		return nil, err
	}
	return takeKey(p), nil
}

func (k *Key) save(op, path string, noClobber bool, f func(*C.soda_blackbox_key, *C.char, C.uint, **C.soda_error) C.int) error {
	c, free := cstring(path)
	defer free()
	var flags C.uint
	if noClobber {
		flags = C.SODA_BLACKBOX_KEY_NO_CLOBBER
	}
	p, err := k.ptr()
	if err != nil {
		return err
	}
	defer k.mu.Unlock()
	var e *C.soda_error
	return check(op, f(p, c, flags, &e), e)
}

// SaveSecret writes the secret key file (mode 0600, atomically).
func (k *Key) SaveSecret(path string, noClobber bool) error {
	return k.save("save secret key", path, noClobber, func(p *C.soda_blackbox_key, c *C.char, f C.uint, e **C.soda_error) C.int {
		return C.soda_blackbox_key_save_secret(p, c, f, e)
	})
}

// SavePublic writes the public key file (mode 0644, atomically).
func (k *Key) SavePublic(path string, noClobber bool) error {
	return k.save("save public key", path, noClobber, func(p *C.soda_blackbox_key, c *C.char, f C.uint, e **C.soda_error) C.int {
		return C.soda_blackbox_key_save_public(p, c, f, e)
	})
}

// FormatPublic gives the public key file's text.
func (k *Key) FormatPublic() (string, error) {
	p, err := k.ptr()
	if err != nil {
		return "", err
	}
	defer k.mu.Unlock()
	var out *C.char
	var e *C.soda_error
	if err := check("format key", C.soda_blackbox_key_format_public(&out, p, 0, &e), e); err != nil {
		return "", err
	}
	return takeString(out), nil
}

// Public gives a public-only copy (what the host may hold).
func (k *Key) Public() (*Key, error) {
	p, err := k.ptr()
	if err != nil {
		return nil, err
	}
	defer k.mu.Unlock()
	var out *C.soda_blackbox_key
	var e *C.soda_error
	if err := check("public key", C.soda_blackbox_key_get_public(&out, p, &e), e); err != nil {
		return nil, err
	}
	return takeKey(out), nil
}

// Type is the key's type.
func (k *Key) Type() KeyType {
	p, err := k.ptr()
	if err != nil {
		return 0
	}
	defer k.mu.Unlock()
	return KeyType(C.soda_blackbox_key_get_type(p))
}

// HasSecret tells whether the key holds its secret part.
func (k *Key) HasSecret() bool {
	p, err := k.ptr()
	if err != nil {
		return false
	}
	defer k.mu.Unlock()
	return C.soda_blackbox_key_has_secret(p) == 1
}

// ID is the key's id, 16 hex digits.
func (k *Key) ID() string {
	p, err := k.ptr()
	if err != nil {
		return ""
	}
	defer k.mu.Unlock()
	return goString(C.soda_blackbox_key_get_id(p))
}

// BoxPublic is the 32-byte X25519 public key (tenant keys).
func (k *Key) BoxPublic() ([]byte, error) {
	p, err := k.ptr()
	if err != nil {
		return nil, err
	}
	defer k.mu.Unlock()
	out := make([]byte, 32)
	if err := checkRC("box public key", C.soda_blackbox_key_get_box_public(p, (*C.uint8_t)(unsafe.Pointer(&out[0])), 32)); err != nil {
		return nil, err
	}
	return out, nil
}

// Sign gives the 64-byte Ed25519 signature of data (needs the secret).
func (k *Key) Sign(data []byte) ([]byte, error) {
	p, err := k.ptr()
	if err != nil {
		return nil, err
	}
	defer k.mu.Unlock()
	sig := make([]byte, 64)
	d := C.CBytes(data)
	defer C.free(d)
	var e *C.soda_error
	if err := check("sign", C.soda_blackbox_key_sign((*C.uint8_t)(unsafe.Pointer(&sig[0])), 64, p, d, C.size_t(len(data)), 0, &e), e); err != nil {
		return nil, err
	}
	return sig, nil
}

// Verify checks sig against data: nil if it is this key's signature, an
// error wrapping syscall.EBADMSG if not.
func (k *Key) Verify(data, sig []byte) error {
	p, err := k.ptr()
	if err != nil {
		return err
	}
	defer k.mu.Unlock()
	d := C.CBytes(data)
	defer C.free(d)
	s := C.CBytes(sig)
	defer C.free(s)
	var e *C.soda_error
	return check("verify signature", C.soda_blackbox_key_verify(p, d, C.size_t(len(data)), (*C.uint8_t)(s), C.size_t(len(sig)), 0, &e), e)
}

// ---- writers ----

// WriterOptions tune NewWriter; zero values take the defaults.
type WriterOptions struct {
	Heartbeat  time.Duration // idle heartbeat period; 0: 5 s; negative: none
	Rekey      time.Duration // new epoch at least this often; 0: 30 s
	RekeyBytes uint64        // ... or after this much plaintext; 0: 4 MiB
	Label      string        // who writes (at most 32 bytes)
}

// Writer seals records into the frames of a new stream and writes each
// frame to an io.Writer. Safe for concurrent use.
type Writer struct {
	mu  sync.Mutex
	p   *C.soda_blackbox_writer
	out *writerOut
}

type writerOut struct {
	w   io.Writer
	err error
}

//export sodaGoOutput
func sodaGoOutput(frame unsafe.Pointer, n C.size_t, userdata unsafe.Pointer) C.int {
	o := cgo.Handle(userdata).Value().(*writerOut)
	_, err := o.w.Write(C.GoBytes(frame, C.int(n)))
	if err == nil {
		return 0
	}
	o.err = err
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return -C.int(errno)
	}
	return -C.int(syscall.EIO)
}

// NewWriter makes a writer sealing to key (its public part is used).
func NewWriter(key *Key, out io.Writer, opts *WriterOptions) (*Writer, error) {
	if opts == nil {
		opts = &WriterOptions{}
	}
	var o C.soda_blackbox_writer_options
	if err := checkRC("writer options", C.soda_blackbox_writer_options_init(&o, 1)); err != nil {
		return nil, err
	}
	switch {
	case opts.Heartbeat < 0:
		o.heartbeat_ms = C.uint32_t(^uint32(0))
	default:
		o.heartbeat_ms = C.uint32_t(opts.Heartbeat.Milliseconds())
	}
	o.rekey_ms = C.uint32_t(opts.Rekey.Milliseconds())
	o.rekey_bytes = C.uint64_t(opts.RekeyBytes)
	l, free := cstringOpt(opts.Label)
	defer free()
	o.label = l
	w := &Writer{out: &writerOut{w: out}}
	h := cgo.NewHandle(w.out)
	kp, err := key.ptr()
	if err != nil {
		h.Delete()
		return nil, err
	}
	defer key.mu.Unlock()
	var e *C.soda_error
	// The library calls sodaGoDestroy (deleting h) when the writer is freed,
	// and on failure here.
	if err := check("new writer", C.soda_go_writer_new(&w.p, kp, &o, C.uintptr_t(h), &e), e); err != nil {
		return nil, err
	}
	runtime.SetFinalizer(w, (*Writer).Close)
	return w, nil
}

func (w *Writer) lock() (*C.soda_blackbox_writer, error) {
	w.mu.Lock()
	if w.p == nil {
		w.mu.Unlock()
		return nil, newError("writer", syscall.EBADF, "the writer is closed")
	}
	return w.p, nil
}

// outErr gives the output's own error in place of the library's report of it.
func (w *Writer) outErr(err error) error {
	if w.out.err != nil {
		oe := w.out.err
		w.out.err = nil
		if err != nil {
			return oe
		}
	}
	return err
}

// Append seals one record; zero times mean now.
func (w *Writer) Append(t RecordType, aux uint32, data []byte, realtime, monotonic time.Duration) error {
	p, err := w.lock()
	if err != nil {
		return err
	}
	defer w.mu.Unlock()
	d := C.CBytes(data)
	defer C.free(d)
	var e *C.soda_error
	return w.outErr(check("append", C.soda_blackbox_writer_append(p, C.uint32_t(t), C.uint32_t(aux), d, C.size_t(len(data)), C.uint64_t(realtime.Microseconds()), C.uint64_t(monotonic.Microseconds()), 0, &e), e))
}

// Tick sends a heartbeat when idle; returns when to call again
// (CLOCK_MONOTONIC, since boot).
func (w *Writer) Tick() (time.Duration, error) {
	p, err := w.lock()
	if err != nil {
		return 0, err
	}
	defer w.mu.Unlock()
	var next C.uint64_t
	var e *C.soda_error
	err = w.outErr(check("tick", C.soda_blackbox_writer_tick(p, &next, 0, &e), e))
	return time.Duration(next) * time.Microsecond, err
}

// End ends the stream (reason 0: a normal end).
func (w *Writer) End(reason uint32) error {
	p, err := w.lock()
	if err != nil {
		return err
	}
	defer w.mu.Unlock()
	var e *C.soda_error
	return w.outErr(check("end", C.soda_blackbox_writer_end(p, C.uint32_t(reason), 0, &e), e))
}

// StreamID is the stream's id, 32 hex digits.
func (w *Writer) StreamID() string {
	p, err := w.lock()
	if err != nil {
		return ""
	}
	defer w.mu.Unlock()
	return goString(C.soda_blackbox_writer_get_stream_id(p))
}

// Close wipes the keys and frees the writer (without ending the stream).
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.p != nil {
		C.soda_blackbox_writer_free(w.p)
		w.p = nil
	}
	return nil
}

// ---- the host store ----

// StoreOptions tune OpenStore; zero values take the defaults.
type StoreOptions struct {
	Durability       Durability
	Group            time.Duration
	Checkpoint       time.Duration
	GroupBytes       uint64
	SegmentBytes     uint64
	QuotaBytes       uint64
	RetentionBytes   uint64
	RetentionSeconds uint64
	Label            string
	ChainV1          bool // new segments hashed with BLAKE2b (readable by libsoda 0.1)
	Parallel         bool // hash the chain on a helper thread
	// DropOldest: at the quota, delete whole oldest segments (with a
	// notice the verifier checks) instead of refusing new data.
	DropOldest bool
}

// Store is a blackbox's host store opened for writing; it is an
// io.WriteCloser of the guest line's raw bytes. Safe for concurrent use.
type Store struct {
	mu sync.Mutex
	p  *C.soda_blackbox_store
}

// OpenStore opens (creating) the store in dir. tenantKey: the tenant's
// public key (nil if the store gets no host events); a secret key is refused.
func OpenStore(dir string, tenantKey *Key, opts *StoreOptions) (*Store, error) {
	if opts == nil {
		opts = &StoreOptions{}
	}
	var o C.soda_blackbox_store_options
	if err := checkRC("store options", C.soda_blackbox_store_options_init(&o, 1)); err != nil {
		return nil, err
	}
	o.durability = C.uint32_t(opts.Durability)
	o.group_ms = C.uint32_t(opts.Group.Milliseconds())
	o.checkpoint_ms = C.uint32_t(opts.Checkpoint.Milliseconds())
	o.group_bytes = C.uint64_t(opts.GroupBytes)
	o.segment_bytes = C.uint64_t(opts.SegmentBytes)
	o.quota_bytes = C.uint64_t(opts.QuotaBytes)
	o.retention_bytes = C.uint64_t(opts.RetentionBytes)
	o.retention_seconds = C.uint64_t(opts.RetentionSeconds)
	l, fl := cstringOpt(opts.Label)
	defer fl()
	o.label = l
	var flags C.uint
	if opts.ChainV1 {
		flags |= C.SODA_BLACKBOX_STORE_CHAIN_V1
	}
	if opts.Parallel {
		flags |= C.SODA_BLACKBOX_STORE_PARALLEL
	}
	if opts.DropOldest {
		flags |= C.SODA_BLACKBOX_STORE_DROP_OLDEST
	}
	d, fd := cstring(dir)
	defer fd()
	var kp *C.soda_blackbox_key
	if tenantKey != nil {
		var err error
		if kp, err = tenantKey.ptr(); err != nil {
			return nil, err
		}
		defer tenantKey.mu.Unlock()
	}
	s := &Store{}
	var e *C.soda_error
	if err := check("open store", C.soda_blackbox_store_open(&s.p, d, kp, &o, flags, &e), e); err != nil {
		return nil, err
	}
	runtime.SetFinalizer(s, (*Store).Close)
	return s, nil
}

func (s *Store) lock() (*C.soda_blackbox_store, error) {
	s.mu.Lock()
	if s.p == nil {
		s.mu.Unlock()
		return nil, newError("store", syscall.EBADF, "the store is closed")
	}
	return s.p, nil
}

// Feed takes raw bytes of the guest's line; eof: the line closed after them.
func (s *Store) Feed(data []byte, eof bool) error {
	p, err := s.lock()
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	var flags C.uint
	if eof {
		flags = C.SODA_BLACKBOX_FEED_EOF
	}
	d := C.CBytes(data)
	defer C.free(d)
	var e *C.soda_error
	return check("feed", C.soda_blackbox_store_feed(p, d, C.size_t(len(data)), flags, &e), e)
}

// Write is Feed without EOF (io.Writer): a Writer can write into a Store.
func (s *Store) Write(b []byte) (int, error) {
	if err := s.Feed(b, false); err != nil {
		return 0, err
	}
	return len(b), nil
}

// HostEvent seals a host record to the tenant's public key.
func (s *Store) HostEvent(t RecordType, aux uint32, data []byte) error {
	p, err := s.lock()
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	d := C.CBytes(data)
	defer C.free(d)
	var e *C.soda_error
	return check("host event", C.soda_blackbox_store_host_event(p, C.uint32_t(t), C.uint32_t(aux), d, C.size_t(len(data)), 0, &e), e)
}

// Deadline is when Process must run next (CLOCK_MONOTONIC since boot;
// ok false: never).
func (s *Store) Deadline() (time.Duration, bool, error) {
	p, err := s.lock()
	if err != nil {
		return 0, false, err
	}
	defer s.mu.Unlock()
	var us C.uint64_t
	if err := checkRC("deadline", C.soda_blackbox_store_get_deadline(p, &us)); err != nil {
		return 0, false, err
	}
	if uint64(us) == ^uint64(0) {
		return 0, false, nil
	}
	return time.Duration(us) * time.Microsecond, true, nil
}

// Process does what is due: commits, checkpoints, retention.
func (s *Store) Process() error {
	p, err := s.lock()
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	var e *C.soda_error
	return check("process store", C.soda_blackbox_store_process(p, 0, &e), e)
}

// Flush commits now.
func (s *Store) Flush() error {
	p, err := s.lock()
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	var e *C.soda_error
	return check("flush", C.soda_blackbox_store_flush(p, 0, &e), e)
}

// Counter reads one of the store's counters.
func (s *Store) Counter(c StoreCounter) (uint64, error) {
	p, err := s.lock()
	if err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	var v C.uint64_t
	err = checkRC("store counter", C.soda_blackbox_store_get_counter(p, C.uint32_t(c), &v))
	return uint64(v), err
}

// Anchor is the store's head "SEGMENT:OFFSET:DIGEST", for a later Verify.
func (s *Store) Anchor() (string, error) {
	p, err := s.lock()
	if err != nil {
		return "", err
	}
	defer s.mu.Unlock()
	var out *C.char
	var e *C.soda_error
	if err := check("anchor", C.soda_blackbox_store_get_anchor(p, &out, &e), e); err != nil {
		return "", err
	}
	return takeString(out), nil
}

// Close ends the host stream, syncs, wipes keys and frees (always).
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p == nil {
		return nil
	}
	var e *C.soda_error
	err := check("close store", C.soda_blackbox_store_close(s.p, 0, &e), e)
	s.p = nil
	return err
}

// ---- findings and reports ----

// Finding is one problem a verification or a reading found.
type Finding struct {
	Kind     FindingKind
	Severity Severity
	Basis    Basis
	Message  string
	Segment  uint64 // 1-based; 0 for the store as a whole
	Offset   uint64
	Entry    uint64 // ^uint64(0) if unknown
	Stream   string
	Seq      uint64 // ^uint64(0) if none
	JSON     string
}

func (f Finding) String() string { return f.Kind.String() + ": " + f.Message }

func findingOf(f *C.soda_blackbox_finding) Finding {
	var js *C.char
	j := ""
	if C.soda_blackbox_finding_to_json(&js, f, 0, nil) == 0 {
		j = takeString(js)
	}
	return Finding{
		Kind:     FindingKind(C.soda_blackbox_finding_get_kind(f)),
		Severity: Severity(C.soda_blackbox_finding_get_severity(f)),
		Basis:    Basis(C.soda_blackbox_finding_get_basis(f)),
		Message:  goString(C.soda_blackbox_finding_get_message(f)),
		Segment:  uint64(C.soda_blackbox_finding_get_segment(f)),
		Offset:   uint64(C.soda_blackbox_finding_get_offset(f)),
		Entry:    uint64(C.soda_blackbox_finding_get_entry(f)),
		Stream:   goString(C.soda_blackbox_finding_get_stream(f)),
		Seq:      uint64(C.soda_blackbox_finding_get_seq(f)),
		JSON:     j,
	}
}

// Report is what a verification or a reading found.
type Report struct {
	Status     Status
	Findings   []Finding
	Counters   map[ReportCounter]uint64
	Anchor     string   // of all the frames checked; "" for an empty store
	FirstError *Finding // the first finding of severity SeverityError, or nil
}

func reportOf(r *C.soda_blackbox_report) *Report {
	out := &Report{Status: Status(C.soda_blackbox_report_get_status(r)), Counters: map[ReportCounter]uint64{}}
	for i := 0; i < int(C.soda_blackbox_report_get_finding_count(r)); i++ {
		out.Findings = append(out.Findings, findingOf(C.soda_blackbox_report_get_finding(r, C.size_t(i))))
	}
	for c := ReportFrames; c <= ReportDropped; c++ {
		out.Counters[c] = uint64(C.soda_blackbox_report_get_counter(r, C.uint32_t(c)))
	}
	out.Anchor = goString(C.soda_blackbox_report_get_anchor(r))
	if f := C.soda_blackbox_report_get_first(r, C.SODA_BLACKBOX_SEVERITY_ERROR); f != nil {
		ff := findingOf(f)
		out.FirstError = &ff
	}
	return out
}

// VerifyOptions tune Verify.
type VerifyOptions struct {
	Anchors  []string // anchors taken earlier: the store must still hold what each covers
	Parallel bool     // hash the chain on a helper thread during the call
}

// Verify checks a store without any key. A damaged store is no error: it
// is in the report. A missing dir gives os.ErrNotExist.
func Verify(dir string, opts *VerifyOptions) (*Report, error) {
	if opts == nil {
		opts = &VerifyOptions{}
	}
	var o C.soda_blackbox_verify_options
	if err := checkRC("verify options", C.soda_blackbox_verify_options_init(&o, 1)); err != nil {
		return nil, err
	}
	var arr **C.char
	if n := len(opts.Anchors); n > 0 {
		arr = (**C.char)(C.calloc(C.size_t(n+1), C.size_t(unsafe.Sizeof((*C.char)(nil)))))
		defer C.free(unsafe.Pointer(arr))
		sl := unsafe.Slice(arr, n+1)
		for i, a := range opts.Anchors {
			sl[i] = C.CString(a)
			defer C.free(unsafe.Pointer(sl[i]))
		}
		o.anchors = arr
		o.n_anchors = C.size_t(n)
	}
	var flags C.uint
	if opts.Parallel {
		flags = C.SODA_BLACKBOX_VERIFY_PARALLEL
	}
	d, free := cstring(dir)
	defer free()
	var r *C.soda_blackbox_report
	var e *C.soda_error
	if err := check("verify", C.soda_blackbox_verify(&r, d, &o, flags, &e), e); err != nil {
		return nil, err
	}
	defer C.soda_blackbox_report_free(r)
	return reportOf(r), nil
}

// ReadAnchor reads the anchor of what a store's head says is committed,
// without the store's lock (while a writer has it open). Kept off the
// host, it lets a later Verify prove nothing up to it was cut or rewritten.
func ReadAnchor(dir string) (string, error) {
	d, free := cstring(dir)
	defer free()
	var out *C.char
	var e *C.soda_error
	if err := check("read anchor", C.soda_blackbox_store_read_anchor(&out, d, 0, &e), e); err != nil {
		return "", err
	}
	return takeString(out), nil
}

// ---- the tenant's reader ----

// Record is one decrypted record.
type Record struct {
	Type      RecordType
	Aux       uint32
	Flags     RecordFlags
	Realtime  time.Time
	Received  time.Time // the host's time of receipt; zero if unknown
	Monotonic time.Duration
	Data      []byte
	Stream    string
	Origin    string // "guest" or "host"
	Label     string
	Seq       uint64
	Segment   uint64
	Offset    uint64
	JSON      string
}

// Continued tells whether the body goes on in the stream's next record.
func (r *Record) Continued() bool { return r.Flags&RecordContinued != 0 }

// ReaderOptions tune OpenReader.
type ReaderOptions struct {
	Types    []RecordType // only these; none: all
	Since    time.Time    // records at or after; zero: from the start
	Until    time.Time    // records before; zero: no end
	Stream   string       // only this stream; "": all
	Follow   bool         // at the end, wait for more
	Strict   bool         // fail (syscall.EBADMSG) at the first error finding
	Parallel bool         // decrypt on two threads
}

// Reader reads a store with the tenant's secret key. Iterate as with
// bufio.Scanner:
//
//	for r.Next() {
//		rec := r.Record()
//	}
//	if err := r.Err(); err != nil { ... }
//
// Not safe for concurrent use.
type Reader struct {
	p      *C.soda_blackbox_reader
	rec    *Record
	err    error
	follow bool
	ctx    context.Context
}

// OpenReader opens the store in dir with key (its secret part is needed).
func OpenReader(dir string, key *Key, opts *ReaderOptions) (*Reader, error) {
	if opts == nil {
		opts = &ReaderOptions{}
	}
	var o C.soda_blackbox_reader_options
	if err := checkRC("reader options", C.soda_blackbox_reader_options_init(&o, 1)); err != nil {
		return nil, err
	}
	for _, t := range opts.Types {
		o.types |= C.uint64_t(1) << uint(t)
	}
	if !opts.Since.IsZero() {
		o.since_usec = C.uint64_t(opts.Since.UnixMicro())
	}
	if !opts.Until.IsZero() {
		o.until_usec = C.uint64_t(opts.Until.UnixMicro())
	}
	st, fs := cstringOpt(opts.Stream)
	defer fs()
	o.stream = st
	var flags C.uint
	if opts.Follow {
		flags |= C.SODA_BLACKBOX_READ_FOLLOW
	}
	if opts.Strict {
		flags |= C.SODA_BLACKBOX_READ_STRICT
	}
	if opts.Parallel {
		flags |= C.SODA_BLACKBOX_READ_PARALLEL
	}
	d, fd := cstring(dir)
	defer fd()
	kp, err := key.ptr()
	if err != nil {
		return nil, err
	}
	defer key.mu.Unlock()
	r := &Reader{follow: opts.Follow, ctx: context.Background()}
	var e *C.soda_error
	if err := check("open reader", C.soda_blackbox_reader_open(&r.p, d, kp, &o, flags, &e), e); err != nil {
		return nil, err
	}
	runtime.SetFinalizer(r, (*Reader).Close)
	return r, nil
}

// NextRecord reads the next record: io.EOF at the end of the store; in
// follow mode an error wrapping syscall.EAGAIN when there is nothing new yet.
func (r *Reader) NextRecord() (*Record, error) {
	if r.p == nil {
		return nil, newError("reader", syscall.EBADF, "the reader is closed")
	}
	var rec *C.soda_blackbox_record
	var e *C.soda_error
	rc := C.soda_blackbox_reader_next(r.p, &rec, 0, &e)
	if err := check("read", rc, e); err != nil {
		return nil, err
	}
	if rc == 0 {
		return nil, io.EOF
	}
	var n C.size_t
	data := C.soda_blackbox_record_get_data(rec, &n)
	var received time.Time
	if us := int64(C.soda_blackbox_record_get_received(rec)); us != 0 {
		received = time.UnixMicro(us)
	}
	var js *C.char
	j := ""
	if C.soda_blackbox_record_to_json(&js, rec, 0, nil) == 0 {
		j = takeString(js)
	}
	return &Record{
		Type:      RecordType(C.soda_blackbox_record_get_type(rec)),
		Aux:       uint32(C.soda_blackbox_record_get_aux(rec)),
		Flags:     RecordFlags(C.soda_blackbox_record_get_flags(rec)),
		Realtime:  time.UnixMicro(int64(C.soda_blackbox_record_get_realtime(rec))),
		Received:  received,
		Monotonic: time.Duration(C.soda_blackbox_record_get_monotonic(rec)) * time.Microsecond,
		Data:      C.GoBytes(unsafe.Pointer(data), C.int(n)),
		Stream:    goString(C.soda_blackbox_record_get_stream(rec)),
		Origin:    goString(C.soda_blackbox_record_get_origin(rec)),
		Label:     goString(C.soda_blackbox_record_get_label(rec)),
		Seq:       uint64(C.soda_blackbox_record_get_seq(rec)),
		Segment:   uint64(C.soda_blackbox_record_get_segment(rec)),
		Offset:    uint64(C.soda_blackbox_record_get_offset(rec)),
		JSON:      j,
	}, nil
}

// WithContext makes Next stop waiting (follow mode) when ctx is done.
func (r *Reader) WithContext(ctx context.Context) *Reader {
	r.ctx = ctx
	return r
}

// Next advances to the next record; false at the end or on an error (see
// Err). In follow mode it waits for new records until the reader's
// context is done.
func (r *Reader) Next() bool {
	for {
		rec, err := r.NextRecord()
		if err == nil {
			r.rec = rec
			return true
		}
		r.rec = nil
		if r.follow && errors.Is(err, syscall.EAGAIN) {
			select {
			case <-r.ctx.Done():
				r.err = r.ctx.Err()
				return false
			case <-time.After(50 * time.Millisecond):
				continue
			}
		}
		if err != io.EOF {
			r.err = err
		}
		return false
	}
}

// Record is the record Next moved to.
func (r *Reader) Record() *Record { return r.rec }

// Err is the error that ended Next, nil at the end of the store.
func (r *Reader) Err() error { return r.err }

// Report gives the findings so far (final once Next returned false).
func (r *Reader) Report() *Report {
	if r.p == nil {
		return nil
	}
	return reportOf(C.soda_blackbox_reader_get_report(r.p))
}

// ExportOptions tune Export.
type ExportOptions struct {
	Format    ExportFormat // 0: JSON lines
	Session   *uint32      // asciicast: the console session; nil: the first met
	WithInput bool         // asciicast: console input as "i" events
	Title     string
}

// Export reads to the end and writes the records to f as JSON lines or
// asciicast v2. The reader must not follow.
func (r *Reader) Export(f *os.File, opts *ExportOptions) error {
	if r.p == nil {
		return newError("export", syscall.EBADF, "the reader is closed")
	}
	if opts == nil {
		opts = &ExportOptions{}
	}
	var o C.soda_blackbox_export_options
	if err := checkRC("export options", C.soda_blackbox_export_options_init(&o, 1)); err != nil {
		return err
	}
	o.format = C.uint32_t(opts.Format)
	if opts.Session != nil {
		o.session = C.uint32_t(*opts.Session)
		o.has_session = 1
	}
	if opts.WithInput {
		o.with_input = 1
	}
	t, ft := cstringOpt(opts.Title)
	defer ft()
	o.title = t
	var e *C.soda_error
	err := check("export", C.soda_blackbox_export(r.p, C.int(f.Fd()), &o, 0, &e), e)
	runtime.KeepAlive(f)
	return err
}

// Close wipes the keys and frees the reader.
func (r *Reader) Close() error {
	if r.p != nil {
		C.soda_blackbox_reader_close(r.p)
		r.p = nil
	}
	return nil
}
