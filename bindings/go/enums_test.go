// SPDX-License-Identifier: LGPL-2.1-or-later

package soda

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// headerDefines reads every integer #define SODA_* of include/soda/*.h.
func headerDefines(t *testing.T) map[string]int {
	t.Helper()
	files, err := filepath.Glob("../../include/soda/*.h")
	if err != nil || len(files) == 0 {
		t.Fatalf("headers: %v", err)
	}
	re := regexp.MustCompile(`(?m)^#define (SODA_[A-Z0-9_]+)\s+\(?(0x[0-9a-fA-F]+|\d+)u?\s*(?:<<\s*(\d+))?`)
	out := map[string]int{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			v, _ := strconv.ParseInt(m[2], 0, 64)
			if m[3] != "" {
				s, _ := strconv.Atoi(m[3])
				v <<= s
			}
			out[m[1]] = int(v)
		}
	}
	return out
}

// Each enum's members against the header's defines of its prefix: a
// constant added to or changed in C and not here fails the test.
func TestEnumsMatchHeaders(t *testing.T) {
	defs := headerDefines(t)
	type enum struct {
		prefix string
		skip   []string
		values map[string]int
	}
	conv := func(m interface{}) map[string]int {
		out := map[string]int{}
		switch mm := m.(type) {
		case map[State]string:
			for k := range mm {
				out[strings.ToUpper(mm[k])] = int(k)
			}
		case map[EventKind]string:
			for k := range mm {
				out[strings.ToUpper(mm[k])] = int(k)
			}
		case map[LogLevel]string:
			for k := range mm {
				out[strings.ToUpper(mm[k])] = int(k)
			}
		case map[ImageSource]string:
			for k := range mm {
				out[strings.ToUpper(mm[k])] = int(k)
			}
		case map[Direction]string:
			for k := range mm {
				out[strings.ToUpper(mm[k])] = int(k)
			}
		case map[Stat]string:
			for k := range mm {
				out[strings.ToUpper(mm[k])] = int(k)
			}
		case map[NetTotal]string:
			for k := range mm {
				out[strings.ToUpper(mm[k])] = int(k)
			}
		case map[KeyType]string:
			for k := range mm {
				out[strings.ToUpper(mm[k])] = int(k)
			}
		case map[Durability]string:
			for k := range mm {
				out[strings.ToUpper(mm[k])] = int(k)
			}
		case map[StoreCounter]string:
			for k := range mm {
				out[strings.ToUpper(strings.ReplaceAll(mm[k], "-", "_"))] = int(k)
			}
		case map[Severity]string:
			for k := range mm {
				out[strings.ToUpper(mm[k])] = int(k)
			}
		case map[Basis]string:
			for k := range mm {
				out[strings.ToUpper(mm[k])] = int(k)
			}
		case map[FindingKind]string:
			for k := range mm {
				out[strings.ToUpper(strings.ReplaceAll(mm[k], "-", "_"))] = int(k)
			}
		case map[ReportCounter]string:
			for k := range mm {
				out[strings.ToUpper(mm[k])] = int(k)
			}
		case map[ExportFormat]string:
			for k := range mm {
				out[strings.ToUpper(mm[k])] = int(k)
			}
		}
		return out
	}
	cases := []enum{
		{"SODA_STATE_", nil, conv(namesState)},
		{"SODA_EVENT_", nil, conv(namesEventKind)},
		{"SODA_LOG_", nil, conv(namesLogLevel)},
		{"SODA_IMAGE_SOURCE_", nil, conv(namesImageSource)},
		{"SODA_DIRECTION_", nil, conv(namesDirection)},
		{"SODA_STAT_", []string{"MAX"}, conv(namesStat)},
		{"SODA_NET_TOTAL_", []string{"MAX"}, conv(namesNetTotal)},
		{"SODA_BLACKBOX_KEY_", []string{"NO_CLOBBER"}, conv(namesKeyType)},
		{"SODA_BLACKBOX_DURABILITY_", nil, conv(namesDurability)},
		{"SODA_BLACKBOX_STAT_", nil, conv(namesStoreCounter)},
		{"SODA_BLACKBOX_SEVERITY_", nil, conv(namesSeverity)},
		{"SODA_BLACKBOX_BASIS_", nil, conv(namesBasis)},
		{"SODA_BLACKBOX_F_", []string{"MAX"}, conv(namesFindingKind)},
		{"SODA_BLACKBOX_REPORT_", nil, conv(namesReportCounter)},
		{"SODA_BLACKBOX_EXPORT_", []string{"OPTIONS_VERSION"}, conv(namesExportFormat)},
	}
	for _, c := range cases {
		want := map[string]int{}
	next:
		for k, v := range defs {
			if !strings.HasPrefix(k, c.prefix) {
				continue
			}
			for _, s := range c.skip {
				if strings.HasPrefix(k[len(c.prefix):], s) {
					continue next
				}
			}
			want[k[len(c.prefix):]] = v
		}
		if len(want) != len(c.values) {
			t.Errorf("%s: headers %v, binding %v", c.prefix, want, c.values)
			continue
		}
		for k, v := range want {
			if c.values[k] != v {
				t.Errorf("%s%s: header %d, binding %d (%v)", c.prefix, k, v, c.values[k], c.values)
			}
		}
	}
	// Names the library gives against the binding's String().
	for s := StateShutoff; s <= StateCrashed; s++ {
		if StateName(s) != s.String() {
			t.Errorf("state %d: %q vs %q", s, StateName(s), s)
		}
	}
	for k := NetCounter(0); k <= CounterMax(); k++ {
		if CounterName(k) != k.String() {
			t.Errorf("net counter %d: %q vs %q", k, CounterName(k), k)
		}
	}
	if int(CounterMax()) != len(namesNetCounter)-1 || defs["SODA_NET_COUNTER_MAX"] != int(CounterMax()) {
		t.Errorf("net counters: library %d, binding %d, header %d", CounterMax(), len(namesNetCounter)-1, defs["SODA_NET_COUNTER_MAX"])
	}
	for k := Stat(1); k <= StatNetInDrops; k++ {
		if StatKeyName(k) != k.String() {
			t.Errorf("stat %d: %q vs %q", k, StatKeyName(k), k)
		}
	}
	for k := RecordConsoleOut; k <= RecordText; k++ {
		if RecordTypeName(k) != k.String() || RecordTypeFromName(k.String()) != k {
			t.Errorf("record type %d: %q vs %q", k, RecordTypeName(k), k)
		}
		if defs["SODA_BLACKBOX_"+strings.ToUpper(strings.ReplaceAll(k.String(), "-", "_"))] != int(k) {
			t.Errorf("record type %s not in the header", k)
		}
	}
	if defs["SODA_BLACKBOX_TYPE_MAX"] != int(RecordText) {
		t.Errorf("record types: header has %d", defs["SODA_BLACKBOX_TYPE_MAX"])
	}
	for k := FindingKind(1); int(k) <= defs["SODA_BLACKBOX_F_MAX"]; k++ {
		if FindingKindName(k) != k.String() {
			t.Errorf("finding %d: %q vs %q", k, FindingKindName(k), k)
		}
	}
	if State(99).String() != "State(99)" {
		t.Errorf("unknown state prints %q", State(99))
	}
}
