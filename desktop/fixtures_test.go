package desktop_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/vsphere-conformance/vsphere-conformance/desktop"
	"github.com/vsphere-conformance/vsphere-conformance/fixtures"
)

var update = flag.Bool("update", false, "rewrite the fixtures' expected.golden files")

// wantIDs pins what each fixture is for, so a golden file that records the
// wrong finding cannot slip in through -update.
var wantIDs = map[string][]string{
	"workstation-windows/good":                     nil,
	"workstation-windows/dhcp-no-range":            {"DK011"},
	"workstation-windows/vmnet8-missing":           {"DK010"},
	"workstation-windows/vmnetdhcp-malformed":      {"DK002"},
	"workstation-windows/pool-overlaps-node":       {"DK044", "DK044"}, // the addon range and the ConfigMap
	"workstation-windows/pool-missing":             {"DK040"},
	"workstation-windows/pool-address-invalid":     {"DK045"},
	"workstation-windows/profile-malformed":        {"DK002"},
	"workstation-windows/profile-missing":          {"DK001"},
	"workstation-linux/good":                       nil,
	"workstation-linux/dhcp-disabled":              {"DK011"},
	"workstation-linux/networking-missing":         {"DK001"},
	"workstation-linux/networking-malformed":       {"DK002"},
	"workstation-linux/dhcp-subnet-mismatch":       {"DK012", "DK013"},
	"workstation-linux/pool-overlaps-dhcp":         {"DK042"},
	"workstation-linux/node-ip-outside-subnet":     {"DK030"},
	"workstation-linux/resources-below-minimum":    {"DK021", "DK021"},
	"workstation-linux/resources-small-for-addons": {"DK022"},
	"workstation-linux/dashboard-addon-disabled":   {"DK051"},
	"fusion/good":                   nil,
	"fusion/dhcp-disabled":          {"DK011"},
	"fusion/dhcpd-missing":          {"DK001"},
	"fusion/driver-not-vmware":      {"DK020"},
	"fusion/pool-outside-subnet":    {"DK041"},
	"fusion/pool-overlaps-gateway":  {"DK043", "DK043"},
	"fusion/node-ip-missing":        {"DK031"},
	"fusion/metallb-addon-disabled": {"DK050"},
}

func TestFixtures(t *testing.T) {
	cases, err := desktop.FixtureCases(fixtures.FS, "desktop")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, c := range cases {
		key := string(c.Platform) + "/" + c.Name
		seen[key] = true
		t.Run(key, func(t *testing.T) {
			want, ok := wantIDs[key]
			if !ok {
				t.Fatalf("fixture %s has no entry in wantIDs", key)
			}
			r, err := desktop.CheckFixture(fixtures.FS, c)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.IDs(); !slices.Equal(got, want) {
				t.Errorf("finding IDs = %v, want %v\n%s", got, want, text(t, r))
			}
			golden := filepath.Join("..", "fixtures", filepath.FromSlash(c.Dir), "expected.golden")
			got := text(t, r)
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			wantText, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./desktop/ -run Fixtures -update)", err)
			}
			if !bytes.Equal(got, wantText) {
				t.Errorf("report differs from %s:\n--- got\n%s--- want\n%s", golden, got, wantText)
			}
		})
	}
	for key := range wantIDs {
		if !seen[key] {
			t.Errorf("wantIDs names %s, which is not in fixtures/desktop", key)
		}
	}
}

// Every rule a user can hit has a fixture that shows it.
func TestEveryRuleHasAFixture(t *testing.T) {
	shown := map[string]bool{}
	for _, ids := range wantIDs {
		for _, id := range ids {
			shown[id] = true
		}
	}
	for _, r := range desktop.AllRules {
		if !shown[r.ID] {
			t.Errorf("rule %s %s has no fixture in fixtures/desktop", r.ID, r.Name)
		}
	}
}

func text(t *testing.T, r desktop.Report) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
