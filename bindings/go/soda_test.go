// SPDX-License-Identifier: LGPL-2.1-or-later

package soda

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func openTest(t *testing.T) *Context {
	t.Helper()
	ctx, err := Open("test:///default", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ctx.Close() })
	return ctx
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestVersion(t *testing.T) {
	n := VersionNumber()
	if Version() != fmt.Sprintf("%d.%d.%d", n>>16, n>>8&0xff, n&0xff) {
		t.Fatalf("version %s vs %x", Version(), n)
	}
	if MemoryMin() != 32<<20 || NameMax() != 63 {
		t.Fatalf("limits %d %d", MemoryMin(), NameMax())
	}
	must(t, CheckName("ok-name"))
	if err := CheckName(".."); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("check name: %v", err)
	}
}

func TestErrorsMatchOsAndErrno(t *testing.T) {
	ctx := openTest(t)
	_, err := NewServerConfig("bad/name")
	var se *Error
	if !errors.As(err, &se) || se.Errno != syscall.EINVAL || !strings.Contains(se.Message, "'/'") || se.Code() != -int(syscall.EINVAL) {
		t.Fatalf("bad name: %#v", err)
	}
	cfg, err := NewServerConfig("a")
	must(t, err)
	_, err = ctx.Define(cfg)
	must(t, err)
	_, err = ctx.Define(cfg)
	if !errors.Is(err, os.ErrExist) || !errors.Is(err, syscall.EEXIST) || errors.Is(err, os.ErrNotExist) {
		t.Fatalf("define twice: %v", err)
	}
	var errno syscall.Errno
	if !errors.As(err, &errno) || errno != syscall.EEXIST {
		t.Fatalf("unwrap: %v", err)
	}
	_, err = ctx.Lookup("ghost")
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "ghost") {
		t.Fatalf("lookup: %v", err)
	}
	if _, err := Open("nfs:///", nil); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("open nfs: %v", err)
	}
	perm := &Error{Errno: syscall.EACCES}
	if !errors.Is(perm, os.ErrPermission) || !errors.Is(&Error{Errno: syscall.EPERM}, os.ErrPermission) {
		t.Fatal("EACCES/EPERM are not os.ErrPermission")
	}
	_, err = ParseShares("cpu.weight=1 bogus=1")
	if !errors.As(err, &se) || se.Column != 14 || !strings.Contains(se.Message, "unknown key 'bogus'") {
		t.Fatalf("shares: %#v", err)
	}
	srv, _ := ctx.Lookup("a")
	if err := srv.Stop(context.Background(), time.Second); !errors.Is(err, syscall.EBUSY) {
		t.Fatalf("stop a stopped server: %v", err)
	}
}

func TestConfigRoundTrip(t *testing.T) {
	dir := t.TempDir()
	cfg, err := NewServerConfig("web")
	must(t, err)
	must(t, cfg.SetImage("busybox"))
	must(t, cfg.SetMemory(48<<20))
	must(t, cfg.AddKernelArg("loglevel=4"))
	must(t, cfg.AddShare(dir, "/data", ShareReadOnly))
	if i, err := cfg.AddNIC("lan", "", "198.51.100.7/24"); err != nil || i != 0 {
		t.Fatal(i, err)
	}
	if i, err := cfg.AddNIC("dmz", "02:00:00:00:00:09"); err != nil || i != 1 {
		t.Fatal(i, err)
	}
	must(t, cfg.AddNICAddress(1, "203.0.113.9/24"))
	must(t, cfg.AddLabel("front"))
	sh, err := ParseShares("cpu.weight=300 pids.max=512")
	must(t, err)
	must(t, cfg.SetShares(sh))
	c2, err := cfg.Copy()
	must(t, err)
	must(t, c2.SetMemory(64<<20))
	if cfg.Name() != "web" || cfg.Image() != "busybox" || cfg.Memory() != 48<<20 || c2.Memory() != 64<<20 {
		t.Fatalf("config %s %s %d", cfg.Name(), cfg.Image(), cfg.Memory())
	}
	if a := cfg.KernelArgs(); len(a) != 1 || a[0] != "loglevel=4" {
		t.Fatal(a)
	}
	if s := cfg.SharedDirs(); len(s) != 1 || s[0] != (Share{dir, "/data", ShareReadOnly}) {
		t.Fatal(s)
	}
	nics := cfg.NICs()
	if len(nics) != 2 || nics[0].Network != "lan" || !strings.HasPrefix(nics[0].MAC, "02:") ||
		len(nics[0].Addresses) != 1 || nics[1].MAC != "02:00:00:00:00:09" || nics[1].Addresses[0] != "203.0.113.9/24" {
		t.Fatalf("nics %+v", nics)
	}
	if l := cfg.Labels(); len(l) != 1 || l[0] != "front" {
		t.Fatal(l)
	}
	got, err := cfg.Shares()
	must(t, err)
	if got.String() != "cpu.weight=300 pids.max=512" {
		t.Fatal(got)
	}
	if err := cfg.AddKernelArg("a b"); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("two words as one: %v", err)
	}
	if err := cfg.AddNICAddress(5, "198.51.100.8/24"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("bad nic index: %v", err)
	}
	if err := cfg.SetMemory(8 << 20); err == nil || cfg.Memory() != 48<<20 {
		t.Fatal("too little memory was taken")
	}
	if cfg.Blackbox() != nil {
		t.Fatal("a blackbox from nowhere")
	}
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i + 1)
	}
	must(t, cfg.SetBlackbox(key, nil))
	if string(cfg.Blackbox()) != string(key) {
		t.Fatal("blackbox key")
	}
	if err := cfg.SetBlackbox(make([]byte, 32), nil); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("zero key: %v", err)
	}
	if err := cfg.SetBlackbox([]byte("short"), nil); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("short key: %v", err)
	}
}

func TestShares(t *testing.T) {
	s, err := NewShares()
	must(t, err)
	if s.CPUWeight() != 100 || s.CPUMax() != 0 || s.CPUs() != "" {
		t.Fatal(s)
	}
	must(t, s.SetCPUWeight(250))
	must(t, s.SetCPUMax(150))
	must(t, s.SetCPUs("0"))
	must(t, s.SetMemoryMax(256<<20))
	must(t, s.SetPidsMax(100))
	must(t, s.SetBandwidth(DirectionOut, 20000000, 0))
	must(t, s.SetBandwidth(DirectionIn, 1000000, 65536))
	if s.CPUWeight() != 250 || s.CPUMax() != 150 || s.CPUs() != "0" || s.MemoryMax() != 256<<20 || s.PidsMax() != 100 {
		t.Fatal(s)
	}
	if r, b, err := s.Bandwidth(DirectionIn); err != nil || r != 1000000 || b != 65536 {
		t.Fatal(r, b, err)
	}
	if _, _, err := s.Bandwidth(Direction(7)); !errors.Is(err, syscall.EINVAL) {
		t.Fatal(err)
	}
	c, err := s.Copy()
	must(t, err)
	back, err := ParseShares(s.String())
	must(t, err)
	if c.String() != s.String() || back.String() != s.String() {
		t.Fatal(c, back, s)
	}
	if err := s.SetCPUWeight(0); err == nil {
		t.Fatal("weight 0 taken")
	}
}

func TestLifecycleAndEvents(t *testing.T) {
	ctx := openTest(t)
	bg := context.Background()
	var seen []Event
	id, err := ctx.OnEvent(func(e Event) { seen = append(seen, e) })
	must(t, err)
	cfg, err := NewServerConfig("web")
	must(t, err)
	srv, err := ctx.Define(cfg)
	must(t, err)
	must(t, srv.Start(bg, true))
	if st, _ := srv.State(); st != StateRunning {
		t.Fatalf("state %s", st)
	}
	info, err := srv.Info()
	must(t, err)
	if !info.Ready || info.State != StateRunning || info.Started.IsZero() {
		t.Fatalf("info %+v", info)
	}
	must(t, srv.WaitState(bg, StateRunning, time.Second))
	must(t, srv.Freeze())
	must(t, srv.Thaw())
	must(t, srv.Restart(bg, time.Second, true))
	must(t, srv.Stop(bg, time.Second))
	if _, err := ctx.Process(); err != nil {
		t.Fatal(err)
	}
	want := []State{StateShutoff, StateStarting, StateRunning, StatePaused, StateRunning, StateShutoff, StateStarting, StateRunning, StateShutoff}
	if len(seen) != len(want) || seen[0].Kind != EventDefined {
		t.Fatalf("events %v", seen)
	}
	for i, st := range want {
		if seen[i].State != st || seen[i].Server != "web" {
			t.Fatalf("event %d: %v", i, seen[i])
		}
	}
	must(t, ctx.RemoveHandler(id))
	if err := ctx.RemoveHandler(id); !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	c2, err := srv.Config()
	must(t, err)
	if c2.Name() != "web" || srv.Name() != "web" || srv.Context() != ctx {
		t.Fatal("config or name")
	}
	other := srv.Ref()
	if other.Name() != "web" || other.Context().URI() != "test:///default" {
		t.Fatal("ref")
	}
	if err := srv.SetShares(must1(ParseShares("cpu.weight=200"))); !errors.Is(err, syscall.EOPNOTSUPP) {
		t.Fatalf("the test backend changes no shares: %v", err)
	}
	must(t, srv.Undefine())
	if names, err := ctx.Servers(); err != nil || len(names) != 0 {
		t.Fatal(names, err)
	}
	if err := srv.Start(bg, false); err == nil {
		t.Fatal("an undefined server started")
	}
}

func must1[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestEventsChannelAndWait(t *testing.T) {
	ctx := openTest(t)
	bg := context.Background()
	fd, err := ctx.Fd()
	if err != nil || fd < 0 {
		t.Fatal(fd, err)
	}
	// Nothing pending: Wait times out, and obeys its context.
	if n, err := ctx.Wait(bg, 50*time.Millisecond); n != 0 || err != nil {
		t.Fatal(n, err)
	}
	cctx, cancel := context.WithTimeout(bg, 80*time.Millisecond)
	start := time.Now()
	if _, err := ctx.Wait(cctx, -1); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Fatal(err)
	}
	cancel()
	srv, err := ctx.Define(must1(NewServerConfig("it")))
	must(t, err)
	must(t, srv.Start(bg, true))
	must(t, srv.Kill())
	ectx, ecancel := context.WithTimeout(bg, 5*time.Second)
	defer ecancel()
	var got []Event
	for ev := range ctx.Events(ectx) {
		got = append(got, ev)
		if ev.Kind == EventState && ev.State == StateShutoff {
			break
		}
	}
	ecancel()
	if len(got) < 3 || got[0].Kind != EventDefined || got[len(got)-1].State != StateShutoff || !strings.HasPrefix(got[len(got)-1].String(), "it: ") {
		t.Fatalf("events %v", got)
	}
	// NextEvent ends with its context when nothing comes.
	nctx, ncancel := context.WithTimeout(bg, 100*time.Millisecond)
	defer ncancel()
	time.Sleep(50 * time.Millisecond) // the Events goroutine has gone
	if _, err := ctx.NextEvent(nctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
	// A context already done stops a start before it begins.
	dead, dcancel := context.WithCancel(bg)
	dcancel()
	if err := srv.Start(dead, true); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if err := srv.WaitState(bg, StateRunning, 50*time.Millisecond); !errors.Is(err, syscall.ECHILD) {
		t.Fatalf("wait for running on a killed server: %v", err)
	}
}

// Goroutines share a context: the binding serialises them (go test -race
// checks the binding's own memory; the library's rule is one thread at a
// time per context).
func TestConcurrentUse(t *testing.T) {
	ctx := openTest(t)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cfg := must1(NewServerConfig(fmt.Sprintf("s%d", i)))
			srv, err := ctx.Define(cfg)
			if err != nil {
				t.Error(err)
				return
			}
			for j := 0; j < 5; j++ {
				if err := srv.Start(context.Background(), true); err != nil {
					t.Error(err)
				}
				if err := srv.Kill(); err != nil {
					t.Error(err)
				}
				ctx.Process()
			}
			if err := srv.Undefine(); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	if names, _ := ctx.Servers(); len(names) != 0 {
		t.Fatal(names)
	}
}

func TestImagesAndUnsupported(t *testing.T) {
	ctx := openTest(t)
	must(t, ctx.BuildImage("second", ImageSourceBusybox, nil))
	must(t, ctx.BuildImage("second", ImageSourceBusybox, &ImageOptions{Replace: true}))
	if err := ctx.BuildImage("busybox", ImageSourceBusybox, nil); !errors.Is(err, os.ErrExist) {
		t.Fatal(err)
	}
	if imgs, err := ctx.Images(); err != nil || strings.Join(imgs, ",") != "busybox,second" {
		t.Fatal(imgs, err)
	}
	must(t, ctx.RemoveImage("second"))
	if err := ctx.RemoveImage("second"); !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	srv, err := ctx.Define(must1(NewServerConfig("u")))
	must(t, err)
	must(t, srv.Start(context.Background(), true))
	_, e1 := ctx.ImagePath("busybox")
	e2 := srv.Dump(t.TempDir()+"/d", false)
	_, e3 := srv.OpenConsole()
	_, e4 := srv.Stats()
	_, e5 := srv.BlackboxDir()
	_, e6 := ctx.CreateNetwork("lan", nil)
	_, e7 := ctx.Networks()
	for i, err := range []error{e1, e2, e3, e4, e5, e6, e7} {
		if !errors.Is(err, syscall.EOPNOTSUPP) {
			t.Errorf("call %d: %v", i+1, err)
		}
	}
	if n, err := ctx.Recover(); n != 0 || err != nil {
		t.Fatal(n, err)
	}
	if ctx.URI() != "test:///default" || ctx.StateDir() != "" || ctx.Netns() != "" {
		t.Fatal(ctx.URI(), ctx.StateDir(), ctx.Netns())
	}
}

func TestLogAndClose(t *testing.T) {
	var mu sync.Mutex
	var msgs []string
	ctx, err := Open("test:///default", &Options{LogLevel: LogDebug, Log: func(l LogLevel, m string) {
		mu.Lock()
		msgs = append(msgs, l.String()+": "+m)
		mu.Unlock()
	}})
	must(t, err)
	ctx.Close()
	ctx.Close()
	if _, err := ctx.Servers(); err == nil {
		t.Fatal("a closed context listed servers")
	}
}

func TestGuestProfileAndSensitiveShares(t *testing.T) {
	defs := headerDefines(t)
	for p := GuestProfileLocked; p <= GuestProfileOpen; p++ {
		if GuestProfileName(p) != p.String() || defs["SODA_GUEST_PROFILE_"+strings.ToUpper(p.String())] != int(p) {
			t.Fatalf("profile %d: %q", p, GuestProfileName(p))
		}
		if q, err := GuestProfileFromName(p.String()); err != nil || q != p {
			t.Fatal(q, err)
		}
	}
	if _, err := GuestProfileFromName("wide-open"); !errors.Is(err, syscall.EINVAL) {
		t.Fatal(err)
	}
	for name, v := range map[string]RecordFlags{"CONTINUED": RecordContinued, "FOREIGN": RecordForeign, "TIME_FAR": RecordTimeFar, "TIME_BACK": RecordTimeBack} {
		if defs["SODA_BLACKBOX_RECORD_F_"+name] != int(v) {
			t.Errorf("record flag %s", name)
		}
	}
	if defs["SODA_SHARE_READONLY"] != int(ShareReadOnly) {
		t.Error("share flags")
	}
	cfg := must1(NewServerConfig("g"))
	if cfg.GuestProfile() != GuestProfileLocked {
		t.Fatal(cfg.GuestProfile())
	}
	must(t, cfg.SetGuestProfile(GuestProfileOpen))
	if must1(cfg.Copy()).GuestProfile() != GuestProfileOpen {
		t.Fatal("copy")
	}
	if err := cfg.SetGuestProfile(7); err == nil || cfg.GuestProfile() != GuestProfileOpen {
		t.Fatal(err)
	}
	if v, ok := defs["SODA_SHARE_ALLOW_SENSITIVE"]; ok {
		if v != int(ShareAllowSensitive) {
			t.Fatal("allow sensitive")
		}
		if err := cfg.AddShare("/etc", "/hostetc", 0); !errors.Is(err, os.ErrPermission) {
			t.Fatalf("a share of /etc: %v", err)
		}
		must(t, cfg.AddShare("/etc", "/hostetc", ShareReadOnly|ShareAllowSensitive))
	}
}

func TestBlackboxRetention(t *testing.T) {
	defs := headerDefines(t)
	for p := RetentionStop; p <= RetentionDropOldest; p++ {
		if RetentionName(p) != p.String() || defs["SODA_BLACKBOX_RETENTION_"+strings.ToUpper(strings.ReplaceAll(p.String(), "-", "_"))] != int(p) {
			t.Fatalf("retention %d: %q", p, RetentionName(p))
		}
		if q, err := RetentionFromName(p.String()); err != nil || q != p {
			t.Fatal(q, err)
		}
	}
	if _, err := RetentionFromName("keep-all"); !errors.Is(err, syscall.EINVAL) {
		t.Fatal(err)
	}
	cfg := must1(NewServerConfig("r"))
	if p, q := cfg.BlackboxRetention(); p != RetentionStop || q != 0 {
		t.Fatal(p, q)
	}
	must(t, cfg.SetBlackboxRetention(RetentionDropOldest, 8<<20))
	if p, q := must1(cfg.Copy()).BlackboxRetention(); p != RetentionDropOldest || q != 8<<20 {
		t.Fatal(p, q)
	}
	if err := cfg.SetBlackboxRetention(RetentionStop, 1000); !errors.Is(err, syscall.EINVAL) {
		t.Fatal(err)
	}
}

func TestIDS(t *testing.T) {
	defs := headerDefines(t)
	for k := IDSPackets; k <= IDSBypassedBytes; k++ {
		if IDSStatKeyName(k) != k.String() || defs["SODA_IDS_STAT_"+strings.ToUpper(strings.ReplaceAll(k.String(), "-", "_"))] != int(k) {
			t.Errorf("ids stat %d: %q", k, IDSStatKeyName(k))
		}
	}
	if defs["SODA_IDS_STAT_MAX"] != int(IDSBypassedBytes) || defs["SODA_IDS_RESPONSE_FREEZE"] != int(IDSResponseFreeze) || defs["SODA_IDS_RESPONSE_NONE"] != int(IDSResponseNone) || defs["SODA_IDS_RESPONSE_DUMP"] != int(IDSResponseDump) {
		t.Error("ids constants")
	}
	cfg := must1(NewServerConfig("ids"))
	if r, m, err := cfg.IDSResponse(); cfg.IDSLandlordAlerts() || r != IDSResponseNone || m != 1 || err != nil {
		t.Fatal(r, m, err)
	}
	must(t, cfg.SetIDSLandlordAlerts(true))
	must(t, cfg.SetIDSResponse(IDSResponseFreeze, 2))
	if err := cfg.SetIDSResponse(IDSResponseFreeze, 0); !errors.Is(err, syscall.EINVAL) {
		t.Fatal(err)
	}
	must(t, cfg.SetIDSBypass(1<<20))
	if err := cfg.SetIDSBypass(100); !errors.Is(err, syscall.EINVAL) || cfg.IDSBypass() != 1<<20 {
		t.Fatal(err, cfg.IDSBypass())
	}
	c2 := must1(cfg.Copy())
	if r, m, _ := c2.IDSResponse(); !c2.IDSLandlordAlerts() || r != IDSResponseFreeze || m != 2 || c2.IDSBypass() != 1<<20 {
		t.Fatal(r, m)
	}
	// The guest's rules: read at once (a missing file is os.ErrNotExist).
	if cfg.IDSRulesSHA256() != "" {
		t.Fatal("rules from nowhere")
	}
	if err := cfg.SetIDSRules(t.TempDir() + "/none.rules"); !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	must(t, cfg.SetIDSRules(""))
	// The test backend has no port IDS; the calls get there and say so.
	ctx := openTest(t)
	srv := must1(ctx.Define(cfg))
	must(t, srv.Start(context.Background(), true))
	rules := t.TempDir() + "/r.rules"
	must(t, os.WriteFile(rules, []byte("alert icmp any any -> any any (msg:\"x\"; sid:1;)\n"), 0o644))
	_, e4 := srv.IDSStats()
	_, e5 := srv.IDSAlerts()
	for i, err := range []error{srv.IDSEnable(rules, ""), srv.IDSReload(rules, ""), srv.IDSDisable(), e4, e5} {
		if !errors.Is(err, syscall.EOPNOTSUPP) && !errors.Is(err, syscall.ENOTCONN) && !errors.Is(err, syscall.ENODEV) {
			t.Errorf("call %d: %v", i+1, err)
		}
	}
}

// Exec through the test backend, which echoes (backends/test/test.c): argv
// joined, then stdin, on stdout; who and where on stderr; "exit N" and
// "kill N" as statuses.
func TestRunTestBackend(t *testing.T) {
	ctx, err := Open("test:///default", nil)
	must(t, err)
	defer ctx.Close()
	srv, err := ctx.Define(must1(NewServerConfig("ex")))
	must(t, err)
	if _, err := srv.Run(context.Background(), []string{"true"}, nil); !errors.Is(err, syscall.EBUSY) {
		t.Fatal("not running:", err)
	}
	must(t, srv.Start(context.Background(), true))
	data := bytes.Repeat([]byte{0, 1, 2, 0xfe, 0xff, '\n'}, 50000)
	var out, errb bytes.Buffer
	r, err := srv.Run(context.Background(), []string{"cat", "-"}, &ExecOptions{
		Env: []string{"A=1"}, User: "nobody", Dir: "/tmp",
		Stdin: bytes.NewReader(data), Stdout: &out, Stderr: &errb})
	must(t, err)
	if r != (ExecResult{0, 0}) || !bytes.Equal(out.Bytes(), append([]byte("cat -\n"), data...)) ||
		errb.String() != "user nobody cwd /tmp env 1\n" {
		t.Fatalf("%+v %d %q", r, out.Len(), errb.String())
	}
	if r, err := srv.Run(context.Background(), []string{"exit", "42"}, nil); err != nil || r.Status != 42 {
		t.Fatal(r, err)
	}
	if r, err := srv.Run(context.Background(), []string{"kill", "15"}, nil); err != nil || r != (ExecResult{-1, 15}) {
		t.Fatal(r, err)
	}
	short, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := srv.Run(short, []string{"sleep", "9"}, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal("timeout:", err)
	}
	if st, text, err := srv.Exec(context.Background(), "exit 7"); err != nil || st != 0 ||
		text != "sh -c exit 7\nuser root cwd ~ env 0\n" {
		t.Fatal(st, text, err)
	}
}
