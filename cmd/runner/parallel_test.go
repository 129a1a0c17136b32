package main

import "testing"

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
