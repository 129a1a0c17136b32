package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestDesktopCheckExitCodes(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"good setup", []string{"--platform", "workstation-linux", "--root", "../../fixtures/desktop/workstation-linux/good"}, exitPassed, "0 errors, 0 warnings"},
		{"an error finding", []string{"--platform", "fusion", "--root", "../../fixtures/desktop/fusion/pool-outside-subnet"}, exitFailed, "DK041"},
		{"a warning only", []string{"--platform", "fusion", "--root", "../../fixtures/desktop/fusion/node-ip-missing"}, exitPassed, "DK031"},
		{"explicit metallb file wins", []string{"--platform", "fusion", "--root", "../../fixtures/desktop/fusion/good",
			"--metallb", "../../fixtures/desktop/fusion/pool-outside-subnet/metallb.yaml"}, exitFailed, "DK041"},
		{"missing metallb file", []string{"--platform", "fusion", "--root", "../../fixtures/desktop/fusion/good", "--metallb", "nope.yaml"}, exitFailed, "DK001"},
		{"bad format", []string{"--format", "yaml"}, exitUsage, ""},
		{"bad platform", []string{"--platform", "hyperv"}, exitUsage, ""},
		{"root not a dir", []string{"--platform", "fusion", "--root", "desktop.go"}, exitUsage, ""},
		{"networking on windows", []string{"--platform", "workstation-windows", "--networking", "x"}, exitUsage, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			root := newRootCommand()
			root.SetOut(&out)
			root.SetErr(&out)
			root.SetArgs(append([]string{"desktop", "check"}, tc.args...))
			code := exitPassed
			if err := root.Execute(); err != nil {
				code = exitUsage
				var ee *exitError
				if errors.As(err, &ee) {
					code = ee.code
				}
			}
			if code != tc.code || !strings.Contains(out.String(), tc.out) {
				t.Errorf("exit %d, want %d; output:\n%s", code, tc.code, out.String())
			}
		})
	}
}

func TestDesktopCheckJSON(t *testing.T) {
	var out bytes.Buffer
	root := newRootCommand()
	root.SetOut(&out)
	root.SetArgs([]string{"desktop", "check", "--platform", "workstation-windows", "--format", "json",
		"--root", "../../fixtures/desktop/workstation-windows/pool-missing"})
	_ = root.Execute()
	var r struct {
		Platform string
		Findings []struct{ ID, Severity, Message, Fix string }
	}
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("%v:\n%s", err, out.String())
	}
	if r.Platform != "workstation-windows" || len(r.Findings) != 1 || r.Findings[0].ID != "DK040" || r.Findings[0].Fix == "" {
		t.Errorf("report = %+v", r)
	}
}
