package images

import (
	"bufio"
	"bytes"
	"debug/elf"
	"fmt"
	"io/fs"
	"os/exec"
	"path"
	"sort"
	"strings"
)

// Names of the images the real node runs. Neither tag is "latest", so the
// kubelet's default pull policy is IfNotPresent and it never tries a registry.
const (
	// PauseName must equal containerd's sandbox_image.
	PauseName   = "registry.vsconform.local/pause:3.10"
	BusyboxName = "registry.vsconform.local/busybox:static"
)

// defaultPath is the usual PATH of a linux image.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Pause is the pod sandbox image: the binary built from sim/node/pause as
// /pause, named PauseName.
func Pause(pauseBinary string) Image {
	return Image{
		Name:       PauseName,
		Entrypoint: []string{"/pause"},
		Files:      []File{HostFile("/pause", pauseBinary, 0o755)},
	}
}

// requiredApplets are the tools the specs' data-writing pods use; Busybox
// fails without them rather than making an image whose pods fail later.
var requiredApplets = []string{
	"sh", "cat", "echo", "sha256sum", "dd", "stat", "df", "mount",
	"sleep", "hostname", "od", "head", "wc",
}

// Busybox is the image for pods that run shell commands: a static busybox
// (Debian's busybox-static /bin/busybox) as /bin/busybox, a /bin/<applet>
// symlink for every applet the binary lists, /tmp, and /etc/passwd and
// /etc/group with root and nobody. It is named BusyboxName and runs /bin/sh.
func Busybox(busyboxBinary string) (Image, error) {
	// --list prints what this build has; blockdev and the like vary by build.
	out, err := exec.Command(busyboxBinary, "--list").Output()
	if err != nil {
		return Image{}, fmt.Errorf("%s --list: %w", busyboxBinary, err)
	}
	applets, err := parseApplets(out)
	if err != nil {
		return Image{}, fmt.Errorf("%s --list: %w", busyboxBinary, err)
	}
	var missing []string
	for _, a := range requiredApplets {
		if _, ok := applets[a]; !ok {
			missing = append(missing, a)
		}
	}
	if len(missing) > 0 {
		return Image{}, fmt.Errorf("%s lacks the applets %s", busyboxBinary, strings.Join(missing, ", "))
	}
	names := make([]string, 0, len(applets))
	for a := range applets {
		names = append(names, a)
	}
	sort.Strings(names)

	files := []File{
		HostFile("/bin/busybox", busyboxBinary, 0o755),
		DirEntry("/etc", 0o755),
		DirEntry("/root", 0o700),
		DirEntry("/tmp", 0o777|fs.ModeSticky),
		BytesFile("/etc/passwd", []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"), 0o644),
		BytesFile("/etc/group", []byte("root:x:0:\nnobody:x:65534:\n"), 0o644),
	}
	for _, a := range names {
		files = append(files, SymlinkEntry(path.Join("/bin", a), "busybox"))
	}
	return Image{
		Name:  BusyboxName,
		Env:   []string{defaultPath},
		Cmd:   []string{"/bin/sh"},
		Files: files,
	}, nil
}

// parseApplets reads `busybox --list`: one applet name a line. The binary
// lists itself too; it is the file the links point to, so it is dropped.
func parseApplets(out []byte) (map[string]struct{}, error) {
	applets := map[string]struct{}{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		a := strings.TrimSpace(sc.Text())
		if a == "" || a == "busybox" {
			continue
		}
		if strings.ContainsAny(a, "/ \t") || a == "." || a == ".." {
			return nil, fmt.Errorf("unexpected applet name %q", a)
		}
		applets[a] = struct{}{}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return applets, nil
}

// StaticBinary is an image holding one statically linked program as
// /NAME, its entrypoint, run as user (numeric "UID:GID", "" for root). A
// program linked against libc is refused: the image has no libc.
func StaticBinary(name, binary, user string, cmd ...string) (Image, error) {
	f, err := elf.Open(binary)
	if err != nil {
		return Image{}, fmt.Errorf("%s: %w", binary, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return Image{}, fmt.Errorf("%s is dynamically linked; build it with CGO_ENABLED=0", binary)
		}
	}
	entry := "/" + path.Base(binary)
	return Image{
		Name:       name,
		Entrypoint: []string{entry},
		Cmd:        cmd,
		User:       user,
		Files:      []File{HostFile(entry, binary, 0o755), DirEntry("/tmp", 0o777|fs.ModeSticky)},
	}, nil
}
