// Package images writes OCI image-layout archives for the hermetic target's
// real node. There is no registry there: the images the node runs (the pod
// sandbox and the data-writing image) are written by this package from local
// binaries and loaded into containerd with `ctr images import`.
//
// An archive holds one single-layer image. The output is deterministic (fixed
// times and owners, sorted entries), so the same input always gives the same
// digests and a re-import is a no-op.
package images

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"time"
)

// Media types and annotations of the OCI image spec and containerd.
const (
	mediaTypeIndex    = "application/vnd.oci.image.index.v1+json"
	mediaTypeManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaTypeConfig   = "application/vnd.oci.image.config.v1+json"
	mediaTypeLayer    = "application/vnd.oci.image.layer.v1.tar+gzip"

	// annotationRefName is the tag part of the name (OCI image-layout).
	annotationRefName = "org.opencontainers.image.ref.name"
	// annotationImageName is the full name; containerd's importer prefers
	// it, so the image lands under exactly Image.Name.
	annotationImageName = "io.containerd.image.name"
)

// Kind is the type of a layer entry.
type Kind int

// The kinds of layer entries; no hard links or device nodes are needed.
const (
	Regular Kind = iota
	Dir
	Symlink
)

func (k Kind) String() string {
	switch k {
	case Regular:
		return "regular file"
	case Dir:
		return "directory"
	case Symlink:
		return "symlink"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// File is one entry of the image's only layer, owned by root.
type File struct {
	// Path is absolute and clean inside the image, e.g. "/bin/sh".
	Path string
	Kind Kind
	// Mode holds the permission bits plus fs.ModeSetuid, fs.ModeSetgid and
	// fs.ModeSticky. Zero means 0644 for a regular file and 0755 for a
	// directory; symlinks always get 0777.
	Mode fs.FileMode
	// HostPath, for a regular file, is read when the archive is written;
	// when empty the file holds Data.
	HostPath string
	Data     []byte
	// Target is a symlink's target, relative or absolute.
	Target string
}

// HostFile is a regular file copied from hostPath.
func HostFile(p, hostPath string, mode fs.FileMode) File {
	return File{Path: p, Kind: Regular, Mode: mode, HostPath: hostPath}
}

// BytesFile is a regular file holding data.
func BytesFile(p string, data []byte, mode fs.FileMode) File {
	return File{Path: p, Kind: Regular, Mode: mode, Data: data}
}

// DirEntry is a directory.
func DirEntry(p string, mode fs.FileMode) File {
	return File{Path: p, Kind: Dir, Mode: mode}
}

// SymlinkEntry is a symlink at p pointing to target.
func SymlinkEntry(p, target string) File {
	return File{Path: p, Kind: Symlink, Target: target}
}

// Image is a single-layer linux image.
type Image struct {
	// Name is the full reference with a tag, e.g.
	// "registry.vsconform.local/pause:3.10". Avoid the tag "latest": the
	// kubelet's default pull policy for it is Always, and there is no
	// registry to pull from.
	Name string
	// Architecture defaults to runtime.GOARCH.
	Architecture string
	Entrypoint   []string
	Cmd          []string
	Env          []string
	WorkingDir   string
	// User is "UID[:GID]", numeric so the kubelet can check runAsNonRoot.
	User  string
	Files []File
}

// The JSON documents of the layout, reduced to the fields written here
// (the image-spec module is not a dependency of this module).

// descriptorJSON is an OCI content descriptor.
type descriptorJSON struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Platform    *platformJSON     `json:"platform,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// platformJSON is the platform of a manifest in an index.
type platformJSON struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

// indexJSON is the layout's index.json.
type indexJSON struct {
	SchemaVersion int              `json:"schemaVersion"`
	MediaType     string           `json:"mediaType"`
	Manifests     []descriptorJSON `json:"manifests"`
}

// manifestJSON is an OCI image manifest.
type manifestJSON struct {
	SchemaVersion int              `json:"schemaVersion"`
	MediaType     string           `json:"mediaType"`
	Config        descriptorJSON   `json:"config"`
	Layers        []descriptorJSON `json:"layers"`
}

// configJSON is the subset of the OCI image config this package writes.
type configJSON struct {
	Architecture string         `json:"architecture"`
	OS           string         `json:"os"`
	Config       execConfigJSON `json:"config"`
	RootFS       rootFSJSON     `json:"rootfs"`
	History      []historyJSON  `json:"history,omitempty"`
}

// execConfigJSON is the config's execution parameters.
type execConfigJSON struct {
	Entrypoint []string `json:"Entrypoint,omitempty"`
	Cmd        []string `json:"Cmd,omitempty"`
	Env        []string `json:"Env,omitempty"`
	WorkingDir string   `json:"WorkingDir,omitempty"`
	User       string   `json:"User,omitempty"`
}

// rootFSJSON lists the digests of the uncompressed layers.
type rootFSJSON struct {
	Type    string   `json:"type"`
	DiffIDs []string `json:"diff_ids"`
}

// historyJSON says where a layer came from.
type historyJSON struct {
	CreatedBy string `json:"created_by,omitempty"`
}

// epoch is the time of every archive entry: no wall clock in the output.
var epoch = time.Unix(0, 0).UTC()

var (
	tagRE  = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	repoRE = regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-]+[a-z0-9]+)*)*$`)
)

// splitName splits "repo:tag" into its parts. Digest references are refused:
// the archive names an image, the digest follows from its content.
func splitName(name string) (repo, tag string, err error) {
	i := strings.LastIndex(name, ":")
	if i < 0 || strings.Contains(name[i:], "/") {
		return "", "", fmt.Errorf("image name %q: want REPOSITORY:TAG", name)
	}
	repo, tag = name[:i], name[i+1:]
	if !repoRE.MatchString(repo) {
		return "", "", fmt.Errorf("image name %q: invalid repository %q", name, repo)
	}
	if !tagRE.MatchString(tag) {
		return "", "", fmt.Errorf("image name %q: invalid tag %q", name, tag)
	}
	return repo, tag, nil
}

// WriteArchive writes img as an OCI image-layout tar to w. Nothing is written
// when img is invalid or a host file cannot be read.
func WriteArchive(w io.Writer, img Image) error {
	_, tag, err := splitName(img.Name)
	if err != nil {
		return err
	}
	arch := img.Architecture
	if arch == "" {
		arch = runtime.GOARCH
	}
	layer, diffID, err := buildLayer(img.Files)
	if err != nil {
		return fmt.Errorf("image %s: %w", img.Name, err)
	}
	cfg, err := json.Marshal(configJSON{
		Architecture: arch,
		OS:           "linux",
		Config: execConfigJSON{
			Entrypoint: img.Entrypoint,
			Cmd:        img.Cmd,
			Env:        img.Env,
			WorkingDir: img.WorkingDir,
			User:       img.User,
		},
		RootFS:  rootFSJSON{Type: "layers", DiffIDs: []string{diffID}},
		History: []historyJSON{{CreatedBy: "vsconform sim/images"}},
	})
	if err != nil {
		return err
	}
	layerDesc := descriptor(mediaTypeLayer, layer)
	cfgDesc := descriptor(mediaTypeConfig, cfg)
	man, err := json.Marshal(manifestJSON{
		SchemaVersion: 2,
		MediaType:     mediaTypeManifest,
		Config:        cfgDesc,
		Layers:        []descriptorJSON{layerDesc},
	})
	if err != nil {
		return err
	}
	manDesc := descriptor(mediaTypeManifest, man)
	// The platform lets ctr's default (current platform) filter match too.
	manDesc.Platform = &platformJSON{Architecture: arch, OS: "linux"}
	manDesc.Annotations = map[string]string{
		annotationRefName:   tag,
		annotationImageName: img.Name,
	}
	index, err := json.Marshal(indexJSON{
		SchemaVersion: 2,
		MediaType:     mediaTypeIndex,
		Manifests:     []descriptorJSON{manDesc},
	})
	if err != nil {
		return err
	}

	blobs := map[string][]byte{}
	for _, b := range [][]byte{layer, cfg, man} {
		blobs["blobs/sha256/"+hexDigest(b)] = b
	}
	names := make([]string, 0, len(blobs))
	for n := range blobs {
		names = append(names, n)
	}
	sort.Strings(names)

	tw := tar.NewWriter(w)
	for _, d := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(dirHeader(d, 0o755)); err != nil {
			return err
		}
	}
	for _, n := range names {
		if err := writeFile(tw, n, blobs[n], 0o644); err != nil {
			return err
		}
	}
	if err := writeFile(tw, "index.json", index, 0o644); err != nil {
		return err
	}
	if err := writeFile(tw, "oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		return err
	}
	return tw.Close()
}

// buildLayer returns the gzipped layer tar and the digest of the
// uncompressed tar (the config's diff_id, which containerd checks on unpack).
func buildLayer(files []File) (gz []byte, diffID string, err error) {
	entries, err := layerEntries(files)
	if err != nil {
		return nil, "", err
	}
	var out bytes.Buffer
	zw := gzip.NewWriter(&out) // no name and a zero time in the header
	diff := sha256.New()
	tw := tar.NewWriter(io.MultiWriter(zw, diff))
	for _, f := range entries {
		name := strings.TrimPrefix(f.Path, "/")
		switch f.Kind {
		case Dir:
			err = tw.WriteHeader(dirHeader(name+"/", f.Mode))
		case Symlink:
			h := header(name, tar.TypeSymlink, 0o777)
			h.Linkname = f.Target
			err = tw.WriteHeader(h)
		case Regular:
			data := f.Data
			if f.HostPath != "" {
				if data, err = os.ReadFile(f.HostPath); err != nil {
					return nil, "", fmt.Errorf("%s: %w", f.Path, err)
				}
			}
			err = writeFile(tw, name, data, f.Mode)
		}
		if err != nil {
			return nil, "", err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, "", err
	}
	if err := zw.Close(); err != nil {
		return nil, "", err
	}
	return out.Bytes(), "sha256:" + hex.EncodeToString(diff.Sum(nil)), nil
}

// layerEntries validates files, applies default modes, adds the parent
// directories nobody listed (0755) and sorts by path, which puts every
// directory before its contents.
func layerEntries(files []File) ([]File, error) {
	byPath := map[string]File{}
	for _, f := range files {
		if err := validate(f); err != nil {
			return nil, err
		}
		if _, dup := byPath[f.Path]; dup {
			return nil, fmt.Errorf("%s: listed twice", f.Path)
		}
		if f.Mode == 0 && f.Kind == Regular {
			f.Mode = 0o644
		}
		if f.Mode == 0 && f.Kind == Dir {
			f.Mode = 0o755
		}
		byPath[f.Path] = f
	}
	for _, f := range files {
		for p := path.Dir(f.Path); p != "/"; p = path.Dir(p) {
			parent, ok := byPath[p]
			if !ok {
				byPath[p] = DirEntry(p, 0o755)
				continue
			}
			if parent.Kind != Dir {
				return nil, fmt.Errorf("%s: parent %s is a %v", f.Path, p, parent.Kind)
			}
		}
	}
	out := make([]File, 0, len(byPath))
	for _, f := range byPath {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

func validate(f File) error {
	if !path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path || f.Path == "/" {
		return fmt.Errorf("path %q: want an absolute, clean path other than /", f.Path)
	}
	if f.Mode&^(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0 {
		return fmt.Errorf("%s: mode %v: only permission, setuid, setgid and sticky bits are allowed", f.Path, f.Mode)
	}
	switch f.Kind {
	case Regular:
		if f.HostPath != "" && f.Data != nil {
			return fmt.Errorf("%s: both HostPath and Data set", f.Path)
		}
		if f.Target != "" {
			return fmt.Errorf("%s: a regular file has no Target", f.Path)
		}
	case Dir:
		if f.HostPath != "" || f.Data != nil || f.Target != "" {
			return fmt.Errorf("%s: a directory has no content or target", f.Path)
		}
	case Symlink:
		if f.Target == "" {
			return fmt.Errorf("%s: symlink without a target", f.Path)
		}
		if f.HostPath != "" || f.Data != nil {
			return fmt.Errorf("%s: a symlink has no content", f.Path)
		}
	default:
		return fmt.Errorf("%s: unknown kind %v", f.Path, f.Kind)
	}
	return nil
}

// unixMode turns Go's mode bits into the tar header's Unix bits.
func unixMode(m fs.FileMode) int64 {
	mode := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	return mode
}

func header(name string, typ byte, mode fs.FileMode) *tar.Header {
	return &tar.Header{
		Typeflag: typ,
		Name:     name,
		Mode:     unixMode(mode),
		ModTime:  epoch,
		Format:   tar.FormatPAX,
	}
}

func dirHeader(name string, mode fs.FileMode) *tar.Header {
	return header(name, tar.TypeDir, mode)
}

func writeFile(tw *tar.Writer, name string, data []byte, mode fs.FileMode) error {
	h := header(name, tar.TypeReg, mode)
	h.Size = int64(len(data))
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}

func hexDigest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func descriptor(mediaType string, b []byte) descriptorJSON {
	return descriptorJSON{MediaType: mediaType, Digest: "sha256:" + hexDigest(b), Size: int64(len(b))}
}
