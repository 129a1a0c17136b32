package desktop

import (
	"fmt"
	"path"
	"strconv"
	"strings"
)

// Platform is the desktop hypervisor and host OS.
type Platform string

const (
	WorkstationWindows Platform = "workstation-windows"
	WorkstationLinux   Platform = "workstation-linux"
	Fusion             Platform = "fusion"
)

// Platforms lists every platform.
var Platforms = []Platform{WorkstationWindows, WorkstationLinux, Fusion}

// PlatformFor maps runtime.GOOS to the VMware product that runs there.
func PlatformFor(goos string) (Platform, error) {
	switch goos {
	case "windows":
		return WorkstationWindows, nil
	case "linux":
		return WorkstationLinux, nil
	case "darwin":
		return Fusion, nil
	}
	return "", fmt.Errorf("no VMware desktop hypervisor runs on %s: pass --platform", goos)
}

// ParsePlatform checks a --platform value.
func ParsePlatform(s string) (Platform, error) {
	for _, p := range Platforms {
		if string(p) == s {
			return p, nil
		}
	}
	return "", fmt.Errorf("platform %q: want one of workstation-windows, workstation-linux, fusion", s)
}

// DefaultVMnet is the NAT network: minikube's vmware driver (the
// docker-machine-driver-vmware) connects the VM with connectionType "nat",
// which is vmnet8 unless the NAT network was moved.
const DefaultVMnet = 8

// Paths are the files a check reads. Empty means "not used" (e.g.
// Networking on Windows, where Workstation keeps the vmnet settings in the
// registry and vmnetdhcp.conf).
type Paths struct {
	Networking   string   // Linux, Fusion: the `answer VNET_N_...` file
	DHCPConf     string   // Linux, Fusion: vmnetN's dhcpd.conf; Windows: vmnetdhcp.conf
	MinikubeHome string   // the .minikube directory
	Profile      string   // minikube profile name; "" means the config's "profile", else "minikube"
	MetalLB      []string // MetalLB config files (ConfigMap or IPAddressPool YAML)
	// MetalLBOptional: a missing MetalLB file is not a finding (the
	// root layout's metallb.yaml).
	MetalLBOptional bool
}

// MinikubeConfigFile is config/config.json under the minikube home.
func (p Paths) MinikubeConfigFile(join func(...string) string) string {
	return join(p.MinikubeHome, "config", "config.json")
}

// ProfileFile is profiles/<name>/config.json under the minikube home.
func (p Paths) ProfileFile(join func(...string) string, name string) string {
	return join(p.MinikubeHome, "profiles", name, "config.json")
}

// Env reads environment variables (os.Getenv on the host).
type Env func(string) string

// HostPaths returns where the platform keeps its files on this host:
//
//	workstation-windows  %ProgramData%\VMware\vmnetdhcp.conf
//	workstation-linux    /etc/vmware/networking, /etc/vmware/vmnetN/dhcpd/dhcpd.conf
//	fusion               /Library/Preferences/VMware Fusion/networking, .../vmnetN/dhcpd.conf
//
// and minikube's home as minikube finds it: $MINIKUBE_HOME (with .minikube
// appended unless it already ends in it), else <home>/.minikube, where home
// is %USERPROFILE% on Windows and $HOME elsewhere.
func HostPaths(p Platform, vmnet int, env Env) Paths {
	n := strconv.Itoa(vmnet)
	var out Paths
	home := env("HOME")
	switch p {
	case WorkstationWindows:
		programData := env("PROGRAMDATA")
		if programData == "" {
			programData = `C:\ProgramData`
		}
		out.DHCPConf = programData + `\VMware\vmnetdhcp.conf`
		if up := env("USERPROFILE"); up != "" {
			home = up
		}
	case WorkstationLinux:
		out.Networking = "/etc/vmware/networking"
		out.DHCPConf = "/etc/vmware/vmnet" + n + "/dhcpd/dhcpd.conf"
	case Fusion:
		out.Networking = "/Library/Preferences/VMware Fusion/networking"
		out.DHCPConf = "/Library/Preferences/VMware Fusion/vmnet" + n + "/dhcpd.conf"
	}
	join := joinFor(p)
	if mh := env("MINIKUBE_HOME"); mh != "" {
		if baseName(mh) == ".minikube" {
			out.MinikubeHome = mh
		} else {
			out.MinikubeHome = join(mh, ".minikube")
		}
	} else {
		out.MinikubeHome = join(home, ".minikube")
	}
	return out
}

// RootPaths are HostPaths inside a directory that stands for the host's
// filesystem root, with the user's home at <root>/home and %ProgramData%
// at <root>/ProgramData: the layout of fixtures/desktop. A file
// <root>/metallb.yaml, if present, is the cluster's MetalLB config.
// The paths are slash-separated and relative to root.
func RootPaths(p Platform, vmnet int) Paths {
	env := func(k string) string {
		return map[string]string{"HOME": "/home", "USERPROFILE": "/home", "PROGRAMDATA": "/ProgramData"}[k]
	}
	hp := HostPaths(p, vmnet, env)
	rel := func(s string) string {
		return strings.TrimPrefix(path.Clean(strings.ReplaceAll(s, `\`, "/")), "/")
	}
	return Paths{
		Networking:      relIf(hp.Networking, rel),
		DHCPConf:        rel(hp.DHCPConf),
		MinikubeHome:    rel(hp.MinikubeHome),
		MetalLB:         []string{RootMetalLBFile},
		MetalLBOptional: true,
	}
}

// RootMetalLBFile is the optional MetalLB config in a root layout.
const RootMetalLBFile = "metallb.yaml"

func relIf(s string, rel func(string) string) string {
	if s == "" {
		return ""
	}
	return rel(s)
}

// joinFor joins path elements the way the platform writes them.
func joinFor(p Platform) func(...string) string {
	if p == WorkstationWindows {
		return func(el ...string) string {
			return strings.Join(el, `\`)
		}
	}
	return func(el ...string) string { return path.Join(el...) }
}

func baseName(s string) string {
	s = strings.TrimRight(strings.ReplaceAll(s, `\`, "/"), "/")
	return path.Base(s)
}
