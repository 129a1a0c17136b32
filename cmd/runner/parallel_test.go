package main

import (
	"strings"
	"testing"

	"github.com/vsphere-conformance/vsphere-conformance/reports"
)

func TestParseShard(t *testing.T) {
	for _, tc := range []struct {
		in           string
		index, total int
		wantErr      bool
	}{
		{"1/1", 0, 1, false},
		{"serial", 0, 1, false},
		{"2/3", 1, 3, false},
		{"3/3", 2, 3, false},
		{"0/3", 0, 0, true},
		{"4/3", 0, 0, true},
		{"1/0", 0, 0, true},
		{"a/b", 0, 0, true},
		{"2", 0, 0, true},
	} {
		index, total, err := parseShard(tc.in)
		if (err != nil) != tc.wantErr || (!tc.wantErr && (index != tc.index || total != tc.total)) {
			t.Errorf("parseShard(%q) = %d, %d, %v; want %d, %d, error %v", tc.in, index, total, err, tc.index, tc.total, tc.wantErr)
		}
	}
}

func TestMergeSpecs(t *testing.T) {
	spec := func(name, state, reason string) reports.Spec {
		return reports.Spec{Suite: "csi", Name: name, State: state, SkipReason: reason}
	}
	filtered := "filtered out"
	tests := []struct {
		name  string
		parts [][]reports.Spec
		want  []string // name/state of each merged spec, in order
	}{
		{"ran in one process, shard-skipped in the other",
			[][]reports.Spec{{spec("a", reports.StatePassed, ""), spec("b", reports.StateSkipped, shardSkipReason)},
				{spec("a", reports.StateSkipped, shardSkipReason), spec("b", reports.StateFailed, "")}},
			[]string{"a/passed", "b/failed"}},
		{"filtered out everywhere: once",
			[][]reports.Spec{{spec("c", reports.StateSkipped, filtered)}, {spec("c", reports.StateSkipped, filtered)}, {spec("c", reports.StateSkipped, filtered)}},
			[]string{"c/skipped"}},
		{"table entries with one name keep their count",
			[][]reports.Spec{{spec("t", reports.StateSkipped, filtered), spec("t", reports.StateSkipped, filtered)},
				{spec("t", reports.StateSkipped, filtered), spec("t", reports.StateSkipped, filtered)}},
			[]string{"t/skipped", "t/skipped"}},
		{"skipped by a capability in the process that ran it",
			[][]reports.Spec{{spec("d", reports.StateSkipped, "no capability x")}, {spec("d", reports.StateSkipped, shardSkipReason)}},
			[]string{"d/skipped"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, s := range mergeSpecs(tc.parts) {
				got = append(got, s.Name+"/"+s.State)
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("merged %v, want %v", got, tc.want)
			}
		})
	}
}
