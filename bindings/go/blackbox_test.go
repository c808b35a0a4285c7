// SPDX-License-Identifier: LGPL-2.1-or-later

package soda

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// makeStore writes a store with one guest stream (the lines as console
// output) and the host stream; returns its anchor and the stream id.
func makeStore(t *testing.T, dir string, key *Key, lines ...string) (string, string) {
	t.Helper()
	pub, err := key.Public()
	must(t, err)
	st, err := OpenStore(dir, pub, &StoreOptions{Label: "web"})
	must(t, err)
	w, err := NewWriter(pub, st, &WriterOptions{Label: "web"})
	must(t, err)
	for _, l := range lines {
		must(t, w.Append(RecordConsoleOut, 1, []byte(l+"\n"), 0, 0))
	}
	sid := w.StreamID()
	if next, err := w.Tick(); err != nil || next <= 0 {
		t.Fatal(next, err)
	}
	must(t, w.End(0))
	must(t, w.Close())
	must(t, st.HostEvent(RecordLifecycle, 0, []byte("started")))
	must(t, st.Flush())
	if n, err := st.Counter(StoreFrames); err != nil || n < uint64(len(lines))+2 {
		t.Fatal(n, err)
	}
	if _, ok, err := st.Deadline(); err != nil || !ok {
		t.Fatal(ok, err)
	}
	must(t, st.Process())
	anchor, err := st.Anchor()
	must(t, err)
	// Read without the lock while the store is open: the same head.
	if a, err := ReadAnchor(dir); err != nil || a != anchor {
		t.Fatal(a, anchor, err)
	}
	must(t, st.Close())
	return anchor, sid
}

func TestKeys(t *testing.T) {
	dir := t.TempDir()
	key, err := GenerateKey(KeyTenant)
	must(t, err)
	pub, err := key.Public()
	must(t, err)
	if key.Type() != KeyTenant || !key.HasSecret() || pub.HasSecret() || len(key.ID()) != 16 || pub.ID() != key.ID() {
		t.Fatal("key facts")
	}
	b1, _ := key.BoxPublic()
	b2, _ := pub.BoxPublic()
	if !bytes.Equal(b1, b2) || len(b1) != 32 {
		t.Fatal("box keys")
	}
	must(t, key.SaveSecret(filepath.Join(dir, "k.secret"), false))
	must(t, key.SavePublic(filepath.Join(dir, "k.pub"), false))
	if err := key.SavePublic(filepath.Join(dir, "k.pub"), true); !errors.Is(err, os.ErrExist) {
		t.Fatal(err)
	}
	if k, err := LoadKey(filepath.Join(dir, "k.secret")); err != nil || !k.HasSecret() {
		t.Fatal(err)
	}
	text, err := key.FormatPublic()
	must(t, err)
	if k, err := ParseKey([]byte(text), "k.pub"); err != nil || k.ID() != key.ID() {
		t.Fatal(err)
	}
	must(t, os.Chmod(filepath.Join(dir, "k.secret"), 0o644))
	if _, err := LoadKey(filepath.Join(dir, "k.secret")); !errors.Is(err, os.ErrPermission) {
		t.Fatalf("a secret key others read: %v", err)
	}
	if _, err := LoadKey(filepath.Join(dir, "none")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var se *Error
	if _, err := ParseKey([]byte("not a key\n"), "bad.pub"); !errors.As(err, &se) || se.Line < 1 || se.Source != "bad.pub" {
		t.Fatalf("%#v", err)
	}
	sig, err := key.Sign([]byte("data"))
	must(t, err)
	if len(sig) != 64 || pub.Verify([]byte("data"), sig) != nil {
		t.Fatal("signature")
	}
	if err := pub.Verify([]byte("datA"), sig); !errors.Is(err, syscall.EBADMSG) {
		t.Fatalf("a wrong signature: %v", err)
	}
	if _, err := pub.Sign([]byte("x")); err == nil {
		t.Fatal("a public key signed")
	}
	k2, err := KeyFromPublic(KeyTenant, b1, nil)
	must(t, err)
	if b3, _ := k2.BoxPublic(); !bytes.Equal(b3, b1) || k2.HasSecret() {
		t.Fatal("from public")
	}
	if f, err := GenerateKey(KeyFactory); err != nil || f.Type() != KeyFactory {
		t.Fatal(err)
	}
	must(t, key.Close())
	if _, err := key.Sign([]byte("x")); !errors.Is(err, syscall.EBADF) {
		t.Fatal(err)
	}
}

func TestWriteVerifyRead(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "s")
	key, err := GenerateKey(KeyTenant)
	must(t, err)
	if _, err := ReadAnchor(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	anchor, sid := makeStore(t, dir, key, "hello", "world")
	final, err := ReadAnchor(dir)
	must(t, err)
	rep, err := Verify(dir, &VerifyOptions{Anchors: []string{anchor, final}, Parallel: true})
	must(t, err)
	if rep.Status != StatusIntact || rep.FirstError != nil || rep.Counters[ReportFrames] < 4 || rep.Anchor == "" {
		t.Fatalf("report %+v", rep)
	}
	r, err := OpenReader(dir, key, nil)
	must(t, err)
	defer r.Close()
	var out []string
	var host *Record
	for r.Next() {
		rec := r.Record()
		switch rec.Type {
		case RecordConsoleOut:
			out = append(out, string(rec.Data))
			if rec.Stream != sid || rec.Origin != "guest" || rec.Label != "web" || rec.Aux != 1 || rec.Realtime.IsZero() || rec.Continued() {
				t.Fatalf("record %+v", rec)
			}
			var js map[string]interface{}
			if err := json.Unmarshal([]byte(rec.JSON), &js); err != nil || js["type"] != "console-out" {
				t.Fatal(rec.JSON, err)
			}
		case RecordLifecycle:
			host = rec
		}
	}
	must(t, r.Err())
	if strings.Join(out, "") != "hello\nworld\n" || host == nil || host.Origin != "host" || string(host.Data) != "started" {
		t.Fatalf("records %q %+v", out, host)
	}
	if rr := r.Report(); rr.Status != StatusIntact || rr.Counters[ReportRecords] < 3 {
		t.Fatalf("%+v", rr)
	}
	// Only some types.
	r2, err := OpenReader(dir, key, &ReaderOptions{Types: []RecordType{RecordLifecycle}})
	must(t, err)
	for r2.Next() {
		if r2.Record().Type != RecordLifecycle {
			t.Fatal(r2.Record().Type)
		}
	}
	r2.Close()
	pub, _ := key.Public()
	if _, err := OpenReader(dir, pub, nil); !errors.Is(err, syscall.EINVAL) {
		t.Fatal(err)
	}
	if _, err := Verify(dir+".none", nil); !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	if _, err := OpenStore(t.TempDir(), key, nil); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("a store took a secret key: %v", err)
	}
}

func TestTamperingIsFound(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "s")
	key, _ := GenerateKey(KeyTenant)
	makeStore(t, dir, key, strings.Repeat("x", 200), strings.Repeat("y", 200), strings.Repeat("z", 200))
	segs, _ := filepath.Glob(filepath.Join(dir, "seg*"))
	if len(segs) == 0 {
		t.Fatal("no segment")
	}
	data, err := os.ReadFile(segs[0])
	must(t, err)
	data[len(data)/2] ^= 1
	must(t, os.WriteFile(segs[0], data, 0o600))
	rep, err := Verify(dir, nil)
	must(t, err)
	if rep.Status != StatusDamaged || rep.FirstError == nil || rep.FirstError.Severity != SeverityError || rep.FirstError.Segment < 1 || rep.FirstError.JSON == "" {
		t.Fatalf("%+v", rep)
	}
	r, err := OpenReader(dir, key, &ReaderOptions{Strict: true})
	must(t, err)
	defer r.Close()
	for r.Next() {
	}
	if !errors.Is(r.Err(), syscall.EBADMSG) {
		t.Fatal(r.Err())
	}
}

func TestFollowAndExport(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "s")
	key, _ := GenerateKey(KeyTenant)
	makeStore(t, dir, key, "hello")
	r, err := OpenReader(dir, key, &ReaderOptions{Follow: true})
	must(t, err)
	n := 0
	for {
		_, err := r.NextRecord()
		if errors.Is(err, syscall.EAGAIN) {
			break
		}
		must(t, err)
		n++
	}
	if n < 2 {
		t.Fatal(n)
	}
	f, _ := os.Create(filepath.Join(t.TempDir(), "x"))
	if err := r.Export(f, nil); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("export from a following reader: %v", err)
	}
	r.Close()

	out := filepath.Join(t.TempDir(), "out.jsonl")
	f, err = os.Create(out)
	must(t, err)
	r, _ = OpenReader(dir, key, nil)
	must(t, r.Export(f, nil))
	f.Close()
	r.Close()
	b, _ := os.ReadFile(out)
	sc := bufio.NewScanner(bytes.NewReader(b))
	found := false
	for sc.Scan() {
		var m map[string]interface{}
		must(t, json.Unmarshal(sc.Bytes(), &m))
		found = found || m["type"] == "console-out"
	}
	if !found {
		t.Fatal(string(b))
	}
	cast := filepath.Join(t.TempDir(), "out.cast")
	f, _ = os.Create(cast)
	r, _ = OpenReader(dir, key, nil)
	must(t, r.Export(f, &ExportOptions{Format: ExportAsciicast, Title: "web"}))
	f.Close()
	r.Close()
	b, _ = os.ReadFile(cast)
	lines := strings.Split(string(b), "\n")
	var hdr map[string]interface{}
	must(t, json.Unmarshal([]byte(lines[0]), &hdr))
	if hdr["version"] != float64(2) || hdr["title"] != "web" || !strings.Contains(string(b), "hello") {
		t.Fatal(string(b))
	}
}

type failing struct{}

func (failing) Write([]byte) (int, error) { return 0, syscall.ENOSPC }

func TestWriterOutputErrors(t *testing.T) {
	key, _ := GenerateKey(KeyTenant)
	w, err := NewWriter(key, failing{}, nil)
	must(t, err)
	if err := w.Append(RecordText, 0, []byte("x"), 0, 0); !errors.Is(err, syscall.ENOSPC) {
		t.Fatal(err)
	}
	w.Close()
	if err := w.Append(RecordText, 0, []byte("x"), 0, 0); !errors.Is(err, syscall.EBADF) {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err = NewWriter(key, &buf, &WriterOptions{Heartbeat: -1})
	must(t, err)
	must(t, w.Append(RecordText, 0, []byte("y"), 0, 0))
	if err := w.Append(RecordHeartbeat, 0, nil, 0, 0); err == nil {
		t.Fatal("a writer appended a heartbeat")
	}
	if buf.Len() == 0 {
		t.Fatal("no frames")
	}
	_ = io.Discard
	w.Close()
}

// A writer floods a store past its quota: by default the store keeps the
// old records and refuses the new (counted); with DropOldest it deletes
// the oldest segments and stays verifiable.
func TestQuotaPolicies(t *testing.T) {
	key, _ := GenerateKey(KeyTenant)
	pub, _ := key.Public()
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 3750) // 60000 bytes
	for _, drop := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "s")
		st, err := OpenStore(dir, pub, &StoreOptions{QuotaBytes: 1 << 20, DropOldest: drop})
		must(t, err)
		w, err := NewWriter(pub, st, nil)
		must(t, err)
		for i := 0; i < 60; i++ {
			must(t, w.Append(RecordText, 0, chunk, 0, 0))
		}
		must(t, w.End(0))
		w.Close()
		dropped, _ := st.Counter(StoreDroppedFrames)
		size, _ := st.Counter(StoreStoreBytes)
		must(t, st.Close())
		rep, err := Verify(dir, nil)
		must(t, err)
		if size > 1<<20 || rep.Status == StatusDamaged {
			t.Fatalf("drop %v: %d bytes, %v", drop, size, rep.Findings)
		}
		if drop && dropped != 0 || !drop && (dropped == 0 || rep.Status != StatusIncomplete) {
			t.Fatalf("drop %v: %d frames dropped, %s", drop, dropped, rep.Status)
		}
	}
}
