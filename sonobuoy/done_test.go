package sonobuoy

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteDone(t *testing.T) {
	dir := t.TempDir()
	if err := WriteDone(dir, "/tmp/sonobuoy/results/run-1"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, DoneFile))
	if err != nil || string(b) != "/tmp/sonobuoy/results/run-1" {
		t.Fatalf("done = %q, %v", b, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
	if err := WriteDone(filepath.Join(dir, "missing"), "x"); err == nil {
		t.Error("no error for a missing results dir")
	}
}
