package sonobuoy

import (
	"path/filepath"

	"github.com/vsphere-conformance/vsphere-conformance/reports"
)

// DoneFile is the file the Sonobuoy worker waits for in the results
// directory; it holds the path of the results to send (a file, or a folder
// the worker tars).
const DoneFile = "done"

// WriteDone hands resultsPath to the worker. The worker polls for the file,
// so it is renamed into place whole.
func WriteDone(resultsDir, resultsPath string) error {
	return reports.WriteFileAtomic(filepath.Join(resultsDir, DoneFile), []byte(resultsPath))
}
