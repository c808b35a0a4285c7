// SPDX-License-Identifier: LGPL-2.1-or-later

//go:build integration

// The Go binding with real guests (root, UML; ctest label "integration",
// go test -tags integration): a switch in a network namespace the test
// makes, two servers, a policy that lets one ping the other and not back
// (the denied ping is the attack, the allowed one its positive control,
// and the empty policy takes the allowance away again); a blackbox
// written in a guest, verified without a key and read with it. Everything
// lives in the namespace and a state directory the test removes, also when
// it fails; their names carry the test's pid, so the C tests' sweeps clean
// up after a killed run (tests/helpers/testhelp.c).

package soda

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const (
	itAIP = "198.51.100.10"
	itBIP = "198.51.100.20"
)

var itCounter atomic.Int32

func startTime(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "0"
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return f[19]
}

func cgroupDir(stateDir string) string {
	h := uint32(2166136261)
	for _, b := range []byte(stateDir) {
		h = (h ^ uint32(b)) * 16777619
	}
	for _, root := range []string{"/sys/fs/cgroup/freezer", "/sys/fs/cgroup/unified", "/sys/fs/cgroup"} {
		if _, err := os.Stat(root); err == nil {
			return fmt.Sprintf("%s/soda/%08x", root, h)
		}
	}
	return ""
}

func itEnv(t *testing.T) *Context {
	t.Helper()
	if os.Geteuid() != 0 || os.Getenv("SODA_MONITOR") == "" {
		t.Skip("needs root and SODA_MONITOR/SODA_AGENT (run through ctest)")
	}
	state, err := os.MkdirTemp("/tmp", "soda-it-")
	must(t, err)
	must(t, os.WriteFile(filepath.Join(state, ".soda-it-owner"), []byte(fmt.Sprintf("%d %s\n", os.Getpid(), startTime(os.Getpid()))), 0o644))
	netns := fmt.Sprintf("soda-it-%d-%d", os.Getpid(), 200+itCounter.Add(1))
	if out, err := exec.Command("ip", "netns", "add", netns).CombinedOutput(); err != nil {
		os.RemoveAll(state)
		t.Fatalf("ip netns add: %v %s", err, out)
	}
	var ctx *Context
	t.Cleanup(func() {
		if ctx != nil {
			names, _ := ctx.Servers()
			for _, n := range names {
				if s, err := ctx.Lookup(n); err == nil {
					s.Kill()
					s.Undefine()
				}
			}
			nets, _ := ctx.Networks()
			for _, n := range nets {
				if nw, err := ctx.LookupNetwork(n); err == nil {
					nw.Destroy(true)
				}
			}
			ctx.Recover()
			ctx.Close()
		}
		if cg := cgroupDir(state); cg != "" {
			subs, _ := filepath.Glob(cg + "/*/")
			for _, d := range subs {
				os.Remove(d)
			}
			os.Remove(cg)
		}
		os.RemoveAll(state)
		exec.Command("ip", "netns", "del", netns).Run()
	})
	exec.Command("ip", "-n", netns, "link", "set", "lo", "up").Run()
	var drv []string
	for _, kv := range [][2]string{{"monitor", "SODA_MONITOR"}, {"agent", "SODA_AGENT"}} {
		if v := os.Getenv(kv[1]); v != "" {
			drv = append(drv, kv[0]+"="+v)
		}
	}
	ctx, err = Open("uml:///", &Options{StateDir: state, Netns: netns, DriverOptions: drv})
	must(t, err)
	must(t, ctx.BuildImage("busybox", ImageSourceBusybox, nil))
	return ctx
}

func itGuest(t *testing.T, ctx *Context, name, ip, label string, key *Key) *Server {
	t.Helper()
	cfg, err := NewServerConfig(name)
	must(t, err)
	must(t, cfg.SetMemory(40<<20))
	_, err = cfg.AddNIC("lan", "", ip+"/24")
	must(t, err)
	if label != "" {
		must(t, cfg.AddLabel(label))
	}
	if key != nil {
		box, err := key.BoxPublic()
		must(t, err)
		must(t, cfg.SetBlackbox(box, nil))
	}
	srv, err := ctx.Define(cfg)
	must(t, err)
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	must(t, srv.Start(c, true))
	return srv
}

func itPing(t *testing.T, srv *Server, ip string, tries int) bool {
	t.Helper()
	cmd := make([]string, tries)
	for i := range cmd {
		cmd[i] = "ping -c 1 -W 1 " + ip + " >/dev/null 2>&1"
	}
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	status, _, err := srv.Exec(c, strings.Join(cmd, " || "))
	must(t, err)
	return status == 0
}

func TestIntegrationPolicyIsEnforced(t *testing.T) {
	ctx := itEnv(t)
	var events []Event
	_, err := ctx.OnEvent(func(e Event) { events = append(events, e) })
	must(t, err)
	lan, err := ctx.CreateNetwork("lan", nil)
	must(t, err)
	defer lan.Close()
	a := itGuest(t, ctx, "goa", itAIP, "front", nil)
	b := itGuest(t, ctx, "gob", itBIP, "", nil)
	info, err := lan.Info()
	must(t, err)
	if !info.Firewall || len(info.Ports) != 2 || info.FloodRate != 100 || info.FloodBurst != 200 {
		t.Fatalf("info %+v", info)
	}
	must(t, lan.SetFloodLimit(50, 100))
	if info, _ := lan.Info(); info.FloodRate != 50 || info.FloodBurst != 100 {
		t.Fatalf("flood limit %+v", info)
	}
	if err := lan.SetFloodLimit(2000000, 1); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("a flood limit out of range: %v", err)
	}
	// Default deny.
	if itPing(t, a, itBIP, 1) {
		t.Fatal("a ping passed with no policy")
	}
	pol, err := ParsePolicy("allow from group front to server gob icmp\n", "test")
	must(t, err)
	must(t, lan.ApplyPolicy(pol, true)) // checked only
	if itPing(t, a, itBIP, 1) {
		t.Fatal("a checked policy came into force")
	}
	must(t, lan.ApplyPolicy(pol, false))
	// The positive control: the allowed direction works...
	if !itPing(t, a, itBIP, 3) {
		t.Fatal("the allowed ping failed")
	}
	// ...the attack, the other direction, does not.
	if itPing(t, b, itAIP, 1) {
		t.Fatal("the denied ping passed")
	}
	// Events come from rescans of the state (Process, Wait, and the waits
	// inside calls); a state that lasts is seen by the next one: both
	// servers run, so both have said so by now.
	ctx.Process()
	for _, name := range []string{"goa", "gob"} {
		var last State
		for _, e := range events {
			if e.Server == name && e.Kind == EventState {
				last = e.State
			}
		}
		if last != StateRunning {
			t.Fatalf("%s: events %v", name, events)
		}
	}
	c, err := lan.Counters()
	must(t, err)
	if len(c.Rules) != 1 || c.Rules[0].Packets < 2 || c.Server("gob", NetDropPolicyOut).Packets < 1 || c.Server("goa", NetAccepted).Packets < 1 {
		t.Fatalf("counters %+v", c)
	}
	if comp, err := lan.Compiled(); err != nil || !strings.Contains(comp, "rule 1") {
		t.Fatal(comp, err)
	}
	// Taking the allowance away works at once.
	empty, _ := ParsePolicy("", "")
	must(t, lan.ApplyPolicy(empty, false))
	if itPing(t, a, itBIP, 1) {
		t.Fatal("a ping passed after the allowance went")
	}
	ghost, _ := ParsePolicy("allow from server ghost to server gob icmp\n", "ghost.pol")
	err = lan.ApplyPolicy(ghost, false)
	var se *Error
	if !errors.Is(err, os.ErrNotExist) || !errors.As(err, &se) || se.Line != 1 {
		t.Fatalf("unknown server: %#v", err)
	}
	if p, _ := lan.Policy(); p.Len() != 0 {
		t.Fatal("a refused policy came into force")
	}
	// The console is an io.Reader (and a net.Conn with deadlines).
	con, err := a.OpenConsole()
	must(t, err)
	_, err = con.Write([]byte("echo console-$((40+2))\n"))
	must(t, err)
	con.SetReadDeadline(time.Now().Add(20 * time.Second))
	var seen bytes.Buffer
	buf := make([]byte, 4096)
	for !bytes.Contains(seen.Bytes(), []byte("console-42")) {
		n, err := con.Read(buf)
		seen.Write(buf[:n])
		if err != nil {
			break
		}
	}
	con.Close()
	if !bytes.Contains(seen.Bytes(), []byte("console-42")) {
		t.Fatalf("console: %q", seen.String())
	}
	st, err := a.Stats()
	must(t, err)
	if st[StatCPUUsec] == 0 {
		t.Fatalf("stats %v", st)
	}
	// A deadline bounds a command.
	short, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, _, err := a.Exec(short, "sleep 5"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("exec past its deadline: %v", err)
	}
	must(t, a.Freeze())
	must(t, a.Thaw())
	bg := context.Background()
	must(t, a.Stop(bg, 10*time.Second))
	must(t, b.Stop(bg, 10*time.Second))
	// A rescan after the undefine reports it, whatever came before.
	must(t, a.Undefine())
	ctx.Process()
	undefined := false
	for _, e := range events {
		undefined = undefined || (e.Kind == EventUndefined && e.Server == "goa")
	}
	if !undefined {
		t.Fatalf("events %v", events)
	}
}

func TestIntegrationBlackbox(t *testing.T) {
	ctx := itEnv(t)
	key, err := GenerateKey(KeyTenant)
	must(t, err)
	lan, err := ctx.CreateNetwork("lan", nil)
	must(t, err)
	defer lan.Close()
	srv := itGuest(t, ctx, "gobb", itAIP, "", key)
	dir, err := srv.BlackboxDir()
	must(t, err)
	ectx, ecancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer ecancel()
	status, out, err := srv.Exec(ectx, "printf 'SODA-GO-%s\\n' BB > /dev/blackbox; echo done")
	must(t, err)
	if status != 0 || !strings.Contains(out, "done") {
		t.Fatal(status, out)
	}
	must(t, srv.Stop(context.Background(), 10*time.Second))
	rep, err := Verify(dir, nil)
	must(t, err)
	if rep.Status != StatusIntact || rep.Counters[ReportFrames] <= 5 {
		t.Fatalf("verify: %+v", rep)
	}
	r, err := OpenReader(dir, key, nil)
	must(t, err)
	defer r.Close()
	text, running, shutoff := false, false, false
	for r.Next() {
		rec := r.Record()
		switch rec.Type {
		case RecordText:
			text = text || strings.TrimSpace(string(rec.Data)) == "SODA-GO-BB"
		case RecordLifecycle:
			running = running || strings.Contains(string(rec.Data), "running")
			shutoff = shutoff || strings.Contains(string(rec.Data), "shutoff")
		}
	}
	must(t, r.Err())
	if !text || !running || !shutoff || r.Report().Status != StatusIntact {
		t.Fatalf("records: text %v running %v shutoff %v report %+v", text, running, shutoff, r.Report())
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if bytes.Contains(b, []byte("SODA-GO-BB")) {
			t.Fatalf("plaintext in the host's store: %s", f)
		}
	}
	other, _ := GenerateKey(KeyTenant)
	r2, err := OpenReader(dir, other, nil)
	must(t, err)
	defer r2.Close()
	for r2.Next() {
		if r2.Record().Type == RecordText {
			t.Fatal("another key read the tenant's text")
		}
	}
}
