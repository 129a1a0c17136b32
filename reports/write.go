package reports

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// File names inside a run directory.
const (
	JUnitFile = "junit.xml"
	JSONFile  = "report.json"
	HTMLFile  = "report.html"
)

// WriteOption changes what Write renders.
type WriteOption func(*writeOptions)

type writeOptions struct {
	baseline  *Run
	threshold float64
}

// WithBaseline adds a "compared with baseline" section to report.html (see
// Compare; threshold <= 0 means DefaultThreshold). junit.xml and
// report.json stay as they are: they describe the run alone.
func WithBaseline(baseline Run, threshold float64) WriteOption {
	return func(o *writeOptions) {
		o.baseline, o.threshold = &baseline, threshold
	}
}

// Write redacts run with red and writes junit.xml, report.json and
// report.html into dir, creating dir if needed. Each file is replaced
// atomically, so a crash never leaves a half-written report behind.
func Write(dir string, run Run, red Redactor, opts ...WriteOption) error {
	var o writeOptions
	for _, opt := range opts {
		opt(&o)
	}
	run = red.Run(run)
	var cmp *Comparison
	if o.baseline != nil {
		// Compare the redacted runs: the comparison's names end up in HTML.
		c := Compare(red.Run(*o.baseline), run, o.threshold)
		cmp = &c
	}
	renderers := []struct {
		name   string
		render func(Run) ([]byte, error)
	}{
		{JUnitFile, renderJUnit},
		{JSONFile, renderJSON},
		{HTMLFile, func(r Run) ([]byte, error) { return renderHTML(r, cmp) }},
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("reports: %s: %w", dir, cause(err))
	}
	for _, r := range renderers {
		path := filepath.Join(dir, r.name)
		data, err := r.render(run)
		if err != nil {
			return fmt.Errorf("reports: %s: render: %w", path, err)
		}
		if err := WriteFileAtomic(path, data); err != nil {
			return fmt.Errorf("reports: %s: %w", path, cause(err))
		}
	}
	return nil
}

// Load reads the Run stored in dir/report.json.
func Load(dir string) (Run, error) {
	path := filepath.Join(dir, JSONFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return Run{}, fmt.Errorf("reports: %s: %w", path, cause(err))
	}
	var run Run
	if err := json.Unmarshal(data, &run); err != nil {
		return Run{}, fmt.Errorf("reports: %s: %s", path, describeJSONError(err))
	}
	return run, nil
}

// Rerender loads dir/report.json and writes all reports again, e.g. after a
// template change, to redact a secret that was missed or to compare with a
// baseline (WithBaseline).
func Rerender(dir string, red Redactor, opts ...WriteOption) error {
	run, err := Load(dir)
	if err != nil {
		return err
	}
	return Write(dir, run, red, opts...)
}

func renderJSON(run Run) ([]byte, error) {
	if run.Specs == nil {
		run.Specs = []Spec{} // consumers get [], not null, for a run without specs
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	// Keep "<", ">" and "&" readable; report.json is never embedded in HTML.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(run); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteFileAtomic writes data to path through a temporary file renamed into
// place, so a reader (a CI system, the Sonobuoy worker polling for its done
// file) never sees half a file. The file is world-readable: the Sonobuoy
// worker sidecar may run as another user.
func WriteFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// cause drops the operation and path from fs errors, as our messages
// already name the file.
func cause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

func describeJSONError(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("invalid JSON at offset %d: %v", syntax.Offset, syntax)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "top level"
		}
		return fmt.Sprintf("unexpected JSON %s at offset %d (%s): want %s", typ.Value, typ.Offset, field, typ.Type)
	}
	return "invalid JSON: " + err.Error()
}
