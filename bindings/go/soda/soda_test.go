// SPDX-License-Identifier: LGPL-2.1-or-later

package soda

import (
	"bytes"
	"errors"
	"syscall"
	"testing"
)

func TestLifecycleAndEvents(t *testing.T) {
	ctx, err := Open("test:///default", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ctx.Close()
	var seen []Event
	if _, err := ctx.OnEvent(func(e Event) { seen = append(seen, e) }); err != nil {
		t.Fatal(err)
	}
	cfg, err := NewServerConfig("web")
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.SetShares("cpu.weight=300"); err != nil {
		t.Fatal(err)
	}
	srv, err := ctx.Define(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(true); err != nil {
		t.Fatal(err)
	}
	if st, _ := srv.State(); st != StateRunning {
		t.Fatalf("state %s", StateName(st))
	}
	if err := srv.Freeze(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Stop(1000); err != nil {
		t.Fatal(err)
	}
	if n, err := ctx.Process(); err != nil || n != 5 {
		t.Fatalf("processed %d events (%v): %v", n, err, seen)
	}
	want := []int{StateStarting, StateRunning, StatePaused, StateShutoff}
	for i, st := range want {
		if seen[i+1].State != st || seen[i+1].Server != "web" {
			t.Fatalf("event %d: %v", i+1, seen[i+1])
		}
	}
	names, err := ctx.Servers()
	if err != nil || len(names) != 1 || names[0] != "web" {
		t.Fatalf("servers %v %v", names, err)
	}
}

func TestErrors(t *testing.T) {
	if _, err := NewServerConfig("a/b"); err == nil {
		t.Fatal("a bad name passed")
	} else if !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("%v", err)
	}
	ctx, err := Open("test:///default", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ctx.Close()
	cfg, _ := NewServerConfig("x")
	srv, err := ctx.Define(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Thaw(); !errors.Is(err, syscall.EBUSY) {
		t.Fatalf("thaw of a stopped server: %v", err)
	}
	if _, err := ctx.Lookup("ghost"); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("lookup: %v", err)
	}
	err = cfg.SetShares("cpu.weight=1 bogus=1")
	var se *Error
	if !errors.As(err, &se) || se.Column != 14 {
		t.Fatalf("shares error %v", err)
	}
	if _, err := Open("nfs:///", nil); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("open: %v", err)
	}
}

func TestBlackboxKey(t *testing.T) {
	cfg, err := NewServerConfig("bb")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Blackbox() != nil {
		t.Fatal("a new configuration has a blackbox")
	}
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i + 1)
	}
	if err := cfg.SetBlackbox(key, nil); err != nil {
		t.Fatal(err)
	}
	if got := cfg.Blackbox(); !bytes.Equal(got, key) {
		t.Fatalf("key read back as %x", got)
	}
	if err := cfg.SetBlackbox(make([]byte, 32), nil); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("an all-zero key: %v", err)
	}
	if err := cfg.SetBlackbox(key[:5], nil); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("a short key: %v", err)
	}
	if got := cfg.Blackbox(); !bytes.Equal(got, key) {
		t.Fatal("a refused key changed the configuration")
	}
}
