package sonobuoy

import (
	"os"
	"path/filepath"
)

// DoneFile is the file the Sonobuoy worker waits for in the results
// directory; it holds the path of the results to send (a file, or a folder
// the worker tars).
const DoneFile = "done"

// WriteDone hands resultsPath to the worker. The worker polls for the file,
// so it is renamed into place whole.
func WriteDone(resultsDir, resultsPath string) error {
	tmp, err := os.CreateTemp(resultsDir, ".done-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(resultsPath); err != nil {
		tmp.Close()
		return err
	}
	// The worker sidecar may run as another user.
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(resultsDir, DoneFile))
}
