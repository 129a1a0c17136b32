package target

import (
	"encoding/json"
	"testing"
	"time"
)

func TestVCenterCallsSince(t *testing.T) {
	before := VCenterCalls{"cns": {"CnsQueryVolume": 4}, "vim25": {"RetrievePropertiesEx": 10}}
	after := VCenterCalls{"cns": {"CnsQueryVolume": 6, "CnsCreateVolume": 1}, "vim25": {"RetrievePropertiesEx": 10}, "pbm": {"PbmQueryProfile": 2}}
	got := after.Since(before)
	want := map[string]map[string]int64{"cns": {"CnsQueryVolume": 2, "CnsCreateVolume": 1}, "pbm": {"PbmQueryProfile": 2}}
	if len(got) != len(want) {
		t.Fatalf("Since = %v, want %v", got, want)
	}
	for e, ms := range want {
		for m, n := range ms {
			if got[e][m] != n {
				t.Errorf("%s %s = %d, want %d", e, m, got[e][m], n)
			}
		}
	}
	if got.Total() != 5 {
		t.Errorf("Total = %d, want 5", got.Total())
	}
	if s := got.String(); s != "cns CnsCreateVolume=1\ncns CnsQueryVolume=2\npbm PbmQueryProfile=2" {
		t.Errorf("String = %q", s)
	}
	if n := (VCenterCalls{}).Since(after).Total(); n != 0 {
		t.Errorf("a counter that went down (vCenter restarted) counts %d, want 0", n)
	}
}

func TestDurationJSON(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{`"2s"`, 2 * time.Second, false},
		{`"150ms"`, 150 * time.Millisecond, false},
		{`"-1s"`, 0, true},
		{`"soon"`, 0, true},
		{`5`, 0, true},
	} {
		var d Duration
		err := json.Unmarshal([]byte(tc.in), &d)
		if (err != nil) != tc.wantErr || (err == nil && time.Duration(d) != tc.want) {
			t.Errorf("%s: %v, %v", tc.in, time.Duration(d), err)
		}
	}
	b, _ := json.Marshal(Duration(2 * time.Second))
	if string(b) != `"2s"` {
		t.Errorf("marshal: %s", b)
	}
}

// afterRun is on the wire only when set, so rules of older clients read
// the same.
func TestFaultRuleAfterRunJSON(t *testing.T) {
	for _, tc := range []struct {
		rule FaultRule
		want string
	}{
		{FaultRule{Method: "CnsCreateVolume", Fault: "SystemError"}, `{"method":"CnsCreateVolume","fault":"SystemError"}`},
		{FaultRule{Method: "CnsCreateVolume", Fault: "SystemError", AfterRun: true}, `{"method":"CnsCreateVolume","fault":"SystemError","afterRun":true}`},
	} {
		b, err := json.Marshal(tc.rule)
		if err != nil || string(b) != tc.want {
			t.Errorf("marshal %+v = %s, %v; want %s", tc.rule, b, err, tc.want)
		}
		var back FaultRule
		if err := json.Unmarshal(b, &back); err != nil || back != tc.rule {
			t.Errorf("unmarshal %s = %+v, %v", b, back, err)
		}
	}
}
