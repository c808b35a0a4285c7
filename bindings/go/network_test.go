// SPDX-License-Identifier: LGPL-2.1-or-later

package soda

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

const shopPolicy = "# shop\n" +
	"allow from group web to server db tcp port 5432\n" +
	"\n" +
	"deny from group web to 203.0.113.0/24\n"

func TestPolicyParse(t *testing.T) {
	p, err := ParsePolicy(shopPolicy, "shop.pol")
	must(t, err)
	if p.Len() != 2 || p.Text() != shopPolicy || p.String() != shopPolicy {
		t.Fatal(p.Len(), p.Text())
	}
	if !strings.HasPrefix(p.Rules()[0], "allow from group web to server db") {
		t.Fatal(p.Rules())
	}
	if p.RuleLine(0) != 2 || p.RuleLine(1) != 4 || p.RuleLine(9) != 0 {
		t.Fatal(p.RuleLine(0), p.RuleLine(1))
	}
	empty, err := ParsePolicy("", "")
	must(t, err)
	if empty.Len() != 0 {
		t.Fatal(empty.Rules())
	}
}

func TestPolicyErrorsLocateTheMistake(t *testing.T) {
	_, err := ParsePolicy("allow from any to any tcp\nallow frm any to any\n", "bad.pol")
	var se *Error
	if !errors.As(err, &se) || se.Errno != syscall.EINVAL || se.Source != "bad.pol" || se.Line != 2 || se.Column != 7 {
		t.Fatalf("%#v", err)
	}
	if !strings.Contains(err.Error(), "bad.pol:2:7") {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "p.pol")
	must(t, os.WriteFile(path, []byte("allow from any to group web tcp port 99999\n"), 0o644))
	_, err = LoadPolicy(path)
	if !errors.As(err, &se) || se.Line != 1 || se.Source != path {
		t.Fatalf("%#v", err)
	}
	if _, err := LoadPolicy(path + ".none"); !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
}

func TestCounterNames(t *testing.T) {
	if CounterMax() < NetDropped || CounterName(NetDropPolicyIn) != "refused-in" {
		t.Fatal(CounterMax(), CounterName(NetDropPolicyIn))
	}
}

func TestTestBackendHasNoSwitch(t *testing.T) {
	ctx := openTest(t)
	if _, err := ctx.CreateNetwork("lan", &NetworkOptions{NoFirewall: true}); !errors.Is(err, syscall.EOPNOTSUPP) {
		t.Fatal(err)
	}
	if _, err := ctx.LookupNetwork("lan"); err == nil {
		t.Fatal("a network on the test backend")
	}
}
