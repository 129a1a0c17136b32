package stack

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestPreflight(t *testing.T) {
	full := t.TempDir()
	for _, b := range requiredBinaries {
		os.WriteFile(filepath.Join(full, b), []byte("#!/bin/sh\n"), 0o755)
	}
	partial := t.TempDir()
	os.WriteFile(filepath.Join(partial, "kwokctl"), []byte("#!/bin/sh\n"), 0o755)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port

	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"missing binaries are named", Options{Dir: t.TempDir(), BinDir: partial, Self: "x"}, "missing binaries in " + partial + ": kwok, kube-apiserver"},
		{"a vCenter port in use is refused", Options{Dir: t.TempDir(), BinDir: full, Self: "x", VCenterPort: busyPort}, "vcenter: port 127.0.0.1:"},
		{"an API server port in use is refused", Options{Dir: t.TempDir(), BinDir: full, Self: "x", APIServerPort: busyPort}, "kube-apiserver: port 127.0.0.1:"},
		{"directories are required", Options{}, "required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if os.Geteuid() != 0 && tc.o.BinDir == full {
				t.Skip("needs root")
			}
			err := preflight(tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("preflight: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestConfigsQuoteValues(t *testing.T) {
	vc := VCenter{Host: "127.0.0.1", Port: 8989, Username: `admin"x`, Datacenters: []string{"DC0", "DC1"}}
	got := csiConfig(vc, `p"w\d`, "cluster-1")
	for _, want := range []string{`[VirtualCenter "127.0.0.1"]`, `user = "admin\"x"`, `password = "p\"w\\d"`, `port = "8989"`, `datacenters = "DC0,DC1"`, `cluster-id = "cluster-1"`, `cluster-distribution = "Vanilla"`} {
		if !strings.Contains(got, want) {
			t.Errorf("csi config lacks %s:\n%s", want, got)
		}
	}
}

func TestStorageClassName(t *testing.T) {
	for policy, want := range map[string]string{
		DefaultPolicy:          DefaultStorageClass,
		"vsconform-gold":       "vsphere-vsconform-gold",
		"VM Encryption Policy": "vsphere-vm-encryption-policy",
	} {
		if got := StorageClassName(policy); got != want {
			t.Errorf("StorageClassName(%q) = %q, want %q", policy, got, want)
		}
	}
}

// A model with a real node needs containerd & co. on the machine: one line
// naming what is missing and how to get it, before anything starts.
func TestPreflightRealNodePackages(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	bins := t.TempDir()
	for _, b := range requiredBinaries {
		os.WriteFile(filepath.Join(bins, b), []byte("#!/bin/sh\n"), 0o755)
	}
	path := t.TempDir()
	for _, tool := range []string{"unshare", "nsenter"} {
		real, err := exec.LookPath(tool)
		if err != nil {
			t.Skip(tool + " not installed")
		}
		os.Symlink(real, filepath.Join(path, tool))
	}
	t.Setenv("PATH", path)
	err := preflight(Options{Dir: t.TempDir(), BinDir: bins, Self: "x"})
	if err == nil || !strings.Contains(err.Error(), "real node: containerd not found; run `make tools`") {
		t.Fatalf("preflight: %v, want the missing containerd named", err)
	}
}
