package target

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	yamlv3 "go.yaml.in/yaml/v3"
	"sigs.k8s.io/yaml"
)

func TestSecretNeverPrints(t *testing.T) {
	const pw = "hunter2"
	cfg := &Config{Name: "t", VCenter: VCenter{Username: "admin", Password: Secret(pw)}}

	render := map[string]func() (string, error){
		"%v secret":   func() (string, error) { return fmt.Sprintf("%v", cfg.VCenter.Password), nil },
		"%s secret":   func() (string, error) { return fmt.Sprintf("%s", cfg.VCenter.Password), nil },
		"%q secret":   func() (string, error) { return fmt.Sprintf("%q", cfg.VCenter.Password), nil },
		"%x secret":   func() (string, error) { return fmt.Sprintf("%x", cfg.VCenter.Password), nil },
		"%d secret":   func() (string, error) { return fmt.Sprintf("%d", cfg.VCenter.Password), nil },
		"%#v secret":  func() (string, error) { return fmt.Sprintf("%#v", cfg.VCenter.Password), nil },
		"%v config":   func() (string, error) { return fmt.Sprintf("%v", cfg), nil },
		"%+v config":  func() (string, error) { return fmt.Sprintf("%+v", *cfg), nil },
		"%#v config":  func() (string, error) { return fmt.Sprintf("%#v", cfg), nil },
		"Sprint":      func() (string, error) { return fmt.Sprint(cfg.VCenter.Password), nil },
		"String()":    func() (string, error) { return cfg.VCenter.Password.String(), nil },
		"json":        func() (string, error) { b, err := json.Marshal(cfg); return string(b), err },
		"sigs yaml":   func() (string, error) { b, err := yaml.Marshal(cfg); return string(b), err },
		"yaml v3":     func() (string, error) { b, err := yamlv3.Marshal(cfg); return string(b), err },
		"slog":        func() (string, error) { return logged(slog.Any("password", cfg.VCenter.Password)), nil },
		"slog config": func() (string, error) { return logged(slog.Any("config", cfg)), nil },
	}
	for name, f := range render {
		t.Run(name, func(t *testing.T) {
			out, err := f()
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(out, pw) {
				t.Fatalf("password printed: %s", out)
			}
			if !strings.Contains(out, "[redacted]") {
				t.Fatalf("no [redacted] marker: %s", out)
			}
		})
	}

	if cfg.VCenter.Password.Reveal() != pw {
		t.Error("Reveal lost the value")
	}
	if got := cfg.Secrets(); len(got) != 1 || got[0] != pw {
		t.Errorf("Secrets() = %q", got)
	}
}

// logged renders one slog attribute with the JSON handler.
func logged(attr slog.Attr) string {
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).LogAttrs(context.Background(), slog.LevelInfo, "m", attr)
	return buf.String()
}

func TestSecretsFromPasswordFile(t *testing.T) {
	dir := t.TempDir()
	cfg := &Config{VCenter: VCenter{PasswordFile: writeFile(t, dir, "pw", "from-file\r\n")}}
	if got := cfg.Secrets(); len(got) != 1 || got[0] != "from-file" {
		t.Errorf("Secrets() = %q", got)
	}
}

func TestScrub(t *testing.T) {
	if got := scrub("login with hunter2 failed", []string{"", "hunter2"}); got != "login with [redacted] failed" {
		t.Errorf("scrub = %q", got)
	}
}
