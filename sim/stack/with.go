package stack

import (
	"debug/elf"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// replaceable are the pinned binaries a user may replace with a build of
// their own (`sim up --with NAME=PATH`): the integrations under test and
// their sidecars, not the control plane's plumbing.
var replaceable = []string{
	"vsphere-csi", "vsphere-syncer", "vsphere-cloud-controller-manager",
	"csi-provisioner", "csi-attacher", "csi-resizer", "csi-snapshotter", "snapshot-controller",
	"metallb-controller", "kubelet",
}

// Replaceable lists the binaries --with may replace.
func Replaceable() []string { return slices.Clone(replaceable) }

// ParseWith reads NAME=PATH replacements, each an executable ELF file for a
// replaceable binary; the paths come back absolute.
func ParseWith(specs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, s := range specs {
		name, path, ok := strings.Cut(s, "=")
		if !ok || name == "" || path == "" {
			return nil, fmt.Errorf("--with %q: want NAME=PATH, e.g. vsphere-csi=./vsphere-csi", s)
		}
		if !slices.Contains(replaceable, name) {
			return nil, fmt.Errorf("--with %s: not a replaceable binary; one of %s", name, strings.Join(replaceable, ", "))
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("--with %s: given twice", name)
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, fmt.Errorf("--with %s=%s: %v", name, path, err)
		}
		if err := checkExecutable(abs); err != nil {
			return nil, fmt.Errorf("--with %s=%s: %v", name, path, err)
		}
		out[name] = abs
	}
	return out, nil
}

func checkExecutable(path string) error {
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return fmt.Errorf("no such file")
	case !fi.Mode().IsRegular():
		return fmt.Errorf("not a regular file")
	case fi.Mode().Perm()&0o111 == 0:
		return fmt.Errorf("not executable (chmod +x)")
	}
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("not a Linux executable (ELF): %v", err)
	}
	f.Close()
	return nil
}

// overlayBinDir makes dir a binary directory like binDir, with the files
// named in with copied in place of the pinned ones (a copy: the run uses the
// bytes the report's checksum names, even if the user rebuilds meanwhile).
// The CRD folder beside binDir is linked beside dir, where the stack looks.
func overlayBinDir(dir, binDir string, with map[string]string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(binDir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() || with[e.Name()] != "" {
			continue
		}
		if err := os.Symlink(filepath.Join(binDir, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	names := make([]string, 0, len(with))
	for n := range with {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := copyExecutable(with[n], filepath.Join(dir, n)); err != nil {
			return fmt.Errorf("--with %s: %v", n, err)
		}
	}
	crds := filepath.Join(filepath.Dir(binDir), "crds")
	return os.Symlink(crds, filepath.Join(filepath.Dir(dir), "crds"))
}

func copyExecutable(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
