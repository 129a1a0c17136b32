package images

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"testing"
)

// entry is one tar entry as read back.
type entry struct {
	Name     string
	Type     byte
	Mode     int64
	Data     string
	Linkname string
}

func readTar(t *testing.T, r io.Reader) []entry {
	t.Helper()
	var out []entry
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("reading tar: %v", err)
		}
		if !h.ModTime.Equal(epoch) || h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: time %v, owner %d:%d %q:%q; want epoch and root", h.Name, h.ModTime, h.Uid, h.Gid, h.Uname, h.Gname)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("reading %s: %v", h.Name, err)
		}
		out = append(out, entry{h.Name, h.Typeflag, h.Mode, string(data), h.Linkname})
	}
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// layout is an archive parsed back, with every digest and size checked.
type layout struct {
	index    indexJSON
	manifest manifestJSON
	config   configJSON
	layerTar []byte
	layer    []entry
}

func parseArchive(t *testing.T, archive []byte) layout {
	t.Helper()
	files := map[string][]byte{}
	var names []string
	for _, e := range readTar(t, bytes.NewReader(archive)) {
		names = append(names, e.Name)
		if e.Type == tar.TypeReg {
			files[e.Name] = []byte(e.Data)
		}
	}
	var blobs []string
	for n, b := range files {
		if d, ok := strings.CutPrefix(n, "blobs/sha256/"); ok {
			blobs = append(blobs, n)
			if got := sha(b); got != "sha256:"+d {
				t.Errorf("blob %s holds content with digest %s", n, got)
			}
		}
	}
	wantNames := []string{"blobs/", "blobs/sha256/"}
	sortedBlobs := append([]string(nil), blobs...)
	sort.Strings(sortedBlobs)
	wantNames = append(wantNames, sortedBlobs...)
	wantNames = append(wantNames, "index.json", "oci-layout")
	if !reflect.DeepEqual(names, wantNames) {
		t.Errorf("archive entries %q, want %q", names, wantNames)
	}
	if got := string(files["oci-layout"]); got != `{"imageLayoutVersion":"1.0.0"}` {
		t.Errorf("oci-layout = %q", got)
	}

	var l layout
	blob := func(d descriptorJSON, mediaType string) []byte {
		t.Helper()
		if d.MediaType != mediaType {
			t.Errorf("descriptor %s: media type %q, want %q", d.Digest, d.MediaType, mediaType)
		}
		b, ok := files["blobs/sha256/"+strings.TrimPrefix(d.Digest, "sha256:")]
		if !ok {
			t.Fatalf("blob %s missing", d.Digest)
		}
		if int64(len(b)) != d.Size {
			t.Errorf("blob %s: size %d, descriptor says %d", d.Digest, len(b), d.Size)
		}
		return b
	}
	unmarshal := func(b []byte, v any) {
		t.Helper()
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
	}
	unmarshal(files["index.json"], &l.index)
	if l.index.SchemaVersion != 2 || l.index.MediaType != mediaTypeIndex || len(l.index.Manifests) != 1 {
		t.Fatalf("index.json = %+v", l.index)
	}
	unmarshal(blob(l.index.Manifests[0], mediaTypeManifest), &l.manifest)
	if l.manifest.SchemaVersion != 2 || l.manifest.MediaType != mediaTypeManifest || len(l.manifest.Layers) != 1 {
		t.Fatalf("manifest = %+v", l.manifest)
	}
	unmarshal(blob(l.manifest.Config, mediaTypeConfig), &l.config)
	zr, err := gzip.NewReader(bytes.NewReader(blob(l.manifest.Layers[0], mediaTypeLayer)))
	if err != nil {
		t.Fatalf("layer is not gzip: %v", err)
	}
	if l.layerTar, err = io.ReadAll(zr); err != nil {
		t.Fatalf("gunzip layer: %v", err)
	}
	l.layer = readTar(t, bytes.NewReader(l.layerTar))
	if len(blobs) != 3 {
		t.Errorf("%d blobs, want 3 (layer, config, manifest)", len(blobs))
	}
	return l
}

func write(t *testing.T, img Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteArchive(&buf, img); err != nil {
		t.Fatalf("WriteArchive: %v", err)
	}
	return buf.Bytes()
}

func TestWriteArchive(t *testing.T) {
	host := filepath.Join(t.TempDir(), "prog")
	if err := os.WriteFile(host, []byte("\x7fELF fake"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		img       Image
		wantTag   string
		wantArch  string
		wantLayer []entry
	}{
		{
			name:     "host file",
			img:      Image{Name: "registry.vsconform.local/pause:3.10", Entrypoint: []string{"/pause"}, Files: []File{HostFile("/pause", host, 0o755)}},
			wantTag:  "3.10",
			wantArch: runtime.GOARCH,
			wantLayer: []entry{
				{Name: "pause", Type: tar.TypeReg, Mode: 0o755, Data: "\x7fELF fake"},
			},
		},
		{
			name: "every kind, implicit parents, default modes",
			img: Image{
				Name:         "localhost:5000/a/b:v1",
				Architecture: "arm64",
				Cmd:          []string{"/bin/sh"},
				Env:          []string{"PATH=/bin"},
				WorkingDir:   "/tmp",
				Files: []File{
					SymlinkEntry("/bin/sh", "busybox"),
					HostFile("/bin/busybox", host, 0o755),
					DirEntry("/tmp", 0o777|fs.ModeSticky),
					BytesFile("/etc/passwd", []byte("root:x:0:0::/:/bin/sh\n"), 0),
					BytesFile("/usr/share/empty", nil, 0o755|fs.ModeSetuid),
					DirEntry("/var", 0),
				},
			},
			wantTag:  "v1",
			wantArch: "arm64",
			wantLayer: []entry{
				{Name: "bin/", Type: tar.TypeDir, Mode: 0o755},
				{Name: "bin/busybox", Type: tar.TypeReg, Mode: 0o755, Data: "\x7fELF fake"},
				{Name: "bin/sh", Type: tar.TypeSymlink, Mode: 0o777, Linkname: "busybox"},
				{Name: "etc/", Type: tar.TypeDir, Mode: 0o755},
				{Name: "etc/passwd", Type: tar.TypeReg, Mode: 0o644, Data: "root:x:0:0::/:/bin/sh\n"},
				{Name: "tmp/", Type: tar.TypeDir, Mode: 0o1777},
				{Name: "usr/", Type: tar.TypeDir, Mode: 0o755},
				{Name: "usr/share/", Type: tar.TypeDir, Mode: 0o755},
				{Name: "usr/share/empty", Type: tar.TypeReg, Mode: 0o4755},
				{Name: "var/", Type: tar.TypeDir, Mode: 0o755},
			},
		},
		{
			name:     "no files",
			img:      Image{Name: "x:1"},
			wantTag:  "1",
			wantArch: runtime.GOARCH,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			archive := write(t, tc.img)
			l := parseArchive(t, archive)

			m := l.index.Manifests[0]
			wantAnn := map[string]string{annotationRefName: tc.wantTag, annotationImageName: tc.img.Name}
			if !reflect.DeepEqual(m.Annotations, wantAnn) {
				t.Errorf("index annotations %v, want %v", m.Annotations, wantAnn)
			}
			if m.Platform == nil || *m.Platform != (platformJSON{tc.wantArch, "linux"}) {
				t.Errorf("index platform %+v, want %s/linux", m.Platform, tc.wantArch)
			}
			if l.config.Architecture != tc.wantArch || l.config.OS != "linux" {
				t.Errorf("config platform %s/%s", l.config.OS, l.config.Architecture)
			}
			wantExec := execConfigJSON{tc.img.Entrypoint, tc.img.Cmd, tc.img.Env, tc.img.WorkingDir, tc.img.User}
			if !reflect.DeepEqual(l.config.Config, wantExec) {
				t.Errorf("config.config %+v, want %+v", l.config.Config, wantExec)
			}
			want := rootFSJSON{Type: "layers", DiffIDs: []string{sha(l.layerTar)}}
			if !reflect.DeepEqual(l.config.RootFS, want) {
				t.Errorf("rootfs %+v, want %+v (sha256 of the uncompressed layer)", l.config.RootFS, want)
			}
			if !reflect.DeepEqual(l.layer, tc.wantLayer) {
				t.Errorf("layer entries\n got %+v\nwant %+v", l.layer, tc.wantLayer)
			}

			// Same input, even listed in another order: same bytes.
			again := tc.img
			again.Files = append([]File(nil), tc.img.Files...)
			for i, j := 0, len(again.Files)-1; i < j; i, j = i+1, j-1 {
				again.Files[i], again.Files[j] = again.Files[j], again.Files[i]
			}
			if !bytes.Equal(write(t, again), archive) {
				t.Error("archive differs between two writes of the same image")
			}
		})
	}
}

func TestWriteArchiveDigestFollowsContent(t *testing.T) {
	img := Image{Name: "x:1", Files: []File{BytesFile("/a", []byte("one"), 0o644)}}
	first := parseArchive(t, write(t, img)).index.Manifests[0].Digest
	img.Files[0].Data = []byte("two")
	if second := parseArchive(t, write(t, img)).index.Manifests[0].Digest; second == first {
		t.Errorf("manifest digest %s unchanged after the content changed", first)
	}
}

func TestWriteArchiveRejects(t *testing.T) {
	ok := []File{BytesFile("/a", []byte("x"), 0o644)}
	missing := filepath.Join(t.TempDir(), "missing")
	for _, tc := range []struct {
		name string
		img  Image
		want string
	}{
		{"no tag", Image{Name: "registry.vsconform.local/pause", Files: ok}, "REPOSITORY:TAG"},
		{"port but no tag", Image{Name: "localhost:5000/pause", Files: ok}, "REPOSITORY:TAG"},
		{"empty name", Image{Files: ok}, "REPOSITORY:TAG"},
		{"upper case repository", Image{Name: "Registry/pause:1", Files: ok}, "invalid repository"},
		{"digest", Image{Name: "pause@sha256:abcd", Files: ok}, "invalid"},
		{"empty tag", Image{Name: "pause:", Files: ok}, "invalid tag"},
		{"relative path", Image{Name: "x:1", Files: []File{BytesFile("a", nil, 0)}}, "absolute, clean"},
		{"unclean path", Image{Name: "x:1", Files: []File{BytesFile("/a/../b", nil, 0)}}, "absolute, clean"},
		{"root", Image{Name: "x:1", Files: []File{DirEntry("/", 0)}}, "absolute, clean"},
		{"duplicate", Image{Name: "x:1", Files: []File{DirEntry("/a", 0), BytesFile("/a", nil, 0)}}, "listed twice"},
		{"file as parent", Image{Name: "x:1", Files: []File{BytesFile("/a", nil, 0), BytesFile("/a/b", nil, 0)}}, "parent /a is a regular file"},
		{"symlink as parent", Image{Name: "x:1", Files: []File{SymlinkEntry("/bin", "usr/bin"), BytesFile("/bin/sh", nil, 0)}}, "parent /bin is a symlink"},
		{"both contents", Image{Name: "x:1", Files: []File{{Path: "/a", HostPath: "/etc/hostname", Data: []byte("x")}}}, "both HostPath and Data"},
		{"dir with data", Image{Name: "x:1", Files: []File{{Path: "/a", Kind: Dir, Data: []byte("x")}}}, "no content"},
		{"symlink without target", Image{Name: "x:1", Files: []File{SymlinkEntry("/a", "")}}, "without a target"},
		{"type bits in mode", Image{Name: "x:1", Files: []File{DirEntry("/a", fs.ModeDir|0o755)}}, "only permission"},
		{"raw unix sticky bit", Image{Name: "x:1", Files: []File{DirEntry("/tmp", 0o1777)}}, "only permission"},
		{"unknown kind", Image{Name: "x:1", Files: []File{{Path: "/a", Kind: Kind(9)}}}, "unknown kind"},
		{"missing host file", Image{Name: "x:1", Files: []File{HostFile("/a", missing, 0o755)}}, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := WriteArchive(&buf, tc.img)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("WriteArchive error = %v, want one containing %q", err, tc.want)
			}
			if buf.Len() != 0 {
				t.Errorf("%d bytes written despite the error", buf.Len())
			}
		})
	}
}

func TestPause(t *testing.T) {
	img := Pause("/some/pause")
	want := Image{Name: PauseName, Entrypoint: []string{"/pause"}, Files: []File{HostFile("/pause", "/some/pause", 0o755)}}
	if !reflect.DeepEqual(img, want) {
		t.Errorf("Pause = %+v, want %+v", img, want)
	}
}

// fakeBusybox is a script that answers --list like busybox does.
func fakeBusybox(t *testing.T, applets ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "busybox")
	script := "#!/bin/sh\n[ \"$1\" = --list ] || exit 3\nprintf '%s\\n' " + strings.Join(applets, " ") + "\n"
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBusybox(t *testing.T) {
	bb := fakeBusybox(t, append([]string{"[", "busybox", "blockdev"}, requiredApplets...)...)
	img, err := Busybox(bb)
	if err != nil {
		t.Fatal(err)
	}
	if img.Name != BusyboxName || !reflect.DeepEqual(img.Cmd, []string{"/bin/sh"}) || len(img.Entrypoint) != 0 {
		t.Errorf("Busybox name %q, entrypoint %q, cmd %q", img.Name, img.Entrypoint, img.Cmd)
	}
	l := parseArchive(t, write(t, img))
	got := map[string]entry{}
	for _, e := range l.layer {
		got[e.Name] = e
	}
	for _, a := range append([]string{"[", "blockdev"}, requiredApplets...) {
		if e := got["bin/"+a]; e.Type != tar.TypeSymlink || e.Linkname != "busybox" {
			t.Errorf("bin/%s = %+v, want a symlink to busybox", a, e)
		}
	}
	if e := got["bin/busybox"]; e.Type != tar.TypeReg || e.Mode != 0o755 || !strings.HasPrefix(e.Data, "#!/bin/sh") {
		t.Errorf("bin/busybox = %+v, want the binary, mode 0755", e)
	}
	if e := got["tmp/"]; e.Type != tar.TypeDir || e.Mode != 0o1777 {
		t.Errorf("tmp/ = %+v, want a sticky world-writable directory", e)
	}
	if e := got["etc/passwd"]; !strings.HasPrefix(e.Data, "root:x:0:0:") {
		t.Errorf("etc/passwd = %q", e.Data)
	}
	if e := got["etc/group"]; !strings.HasPrefix(e.Data, "root:x:0:") {
		t.Errorf("etc/group = %q", e.Data)
	}
}

func TestBusyboxRejects(t *testing.T) {
	for _, tc := range []struct {
		name, binary, want string
	}{
		{"missing applets", fakeBusybox(t, "sh", "cat"), "lacks the applets echo, sha256sum"},
		{"odd applet name", fakeBusybox(t, append([]string{"a/b"}, requiredApplets...)...), `unexpected applet name "a/b"`},
		{"not runnable", filepath.Join(t.TempDir(), "none"), "--list"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Busybox(tc.binary); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Busybox error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// fakeCtr records its arguments and plays a ctr that fails as told.
func fakeCtr(t *testing.T, body string) (ctr, argsFile string) {
	t.Helper()
	dir := t.TempDir()
	ctr, argsFile = filepath.Join(dir, "ctr"), filepath.Join(dir, "args")
	script := "#!/bin/sh\necho \"$@\" >>" + argsFile + "\n" + body + "\n"
	if err := os.WriteFile(ctr, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return ctr, argsFile
}

func TestImport(t *testing.T) {
	const base = "--address /run/c.sock -n k8s.io images import"
	for _, tc := range []struct {
		name     string
		body     string
		wantArgs []string
		wantErr  string
	}{
		{
			name:     "all platforms",
			body:     "exit 0",
			wantArgs: []string{base + " --all-platforms /a.tar"},
		},
		{
			name:     "ctr without the flag",
			body:     `case "$*" in *--all-platforms*) echo "Incorrect Usage: flag provided but not defined: -all-platforms"; exit 1;; esac`,
			wantArgs: []string{base + " --all-platforms /a.tar", base + " /a.tar"},
		},
		{
			name:     "other failure, no retry",
			body:     `echo "ctr: failed to dial \"/run/c.sock\": context deadline exceeded"; exit 1`,
			wantArgs: []string{base + " --all-platforms /a.tar"},
			wantErr:  `ctr images import /a.tar into /run/c.sock (namespace k8s.io): exit status 1: ctr: failed to dial "/run/c.sock"`,
		},
		{
			name:     "fails without the flag too",
			body:     `case "$*" in *--all-platforms*) echo "flag provided but not defined: -all-platforms"; exit 1;; esac; echo "ctr: unrecognized image format"; exit 1`,
			wantArgs: []string{base + " --all-platforms /a.tar", base + " /a.tar"},
			wantErr:  "exit status 1: ctr: unrecognized image format",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctr, argsFile := fakeCtr(t, tc.body)
			err := Import(context.Background(), ctr, "/run/c.sock", "k8s.io", "/a.tar")
			if tc.wantErr == "" && err != nil {
				t.Fatalf("Import: %v", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Import error = %v, want one containing %q", err, tc.wantErr)
			}
			args, _ := os.ReadFile(argsFile)
			if got := strings.Split(strings.TrimSpace(string(args)), "\n"); !reflect.DeepEqual(got, tc.wantArgs) {
				t.Errorf("ctr runs %q, want %q", got, tc.wantArgs)
			}
		})
	}
}

func TestStaticBinary(t *testing.T) {
	if _, err := StaticBinary("x/y:1", "/bin/sh", ""); err == nil || !strings.Contains(err.Error(), "dynamically linked") {
		t.Errorf("StaticBinary(/bin/sh) = %v, want a refusal naming dynamic linking", err)
	}
	if _, err := StaticBinary("x/y:1", filepath.Join(t.TempDir(), "missing"), ""); err == nil {
		t.Error("StaticBinary of a missing file succeeded")
	}
	busybox := "/bin/busybox" // Debian's busybox-static
	if _, err := os.Stat(busybox); err != nil {
		t.Skip("no static busybox on this machine")
	}
	img, err := StaticBinary("x/y:1", busybox, "65532:65532", "--help")
	if err != nil {
		t.Fatal(err)
	}
	if img.Entrypoint[0] != "/busybox" || img.User != "65532:65532" || img.Cmd[0] != "--help" {
		t.Errorf("image = %+v", img)
	}
	if got := parseArchive(t, write(t, img)).config.Config.User; got != "65532:65532" {
		t.Errorf("config user = %q, want 65532:65532", got)
	}
}
