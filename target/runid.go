package target

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Labels on every Kubernetes object the helpers create, so leftovers of a
// run can be found (and proven absent) afterwards.
const (
	LabelRun  = "vsconform.io/run"
	LabelSpec = "vsconform.io/spec"
)

var (
	runIDMu sync.Mutex
	runID   string
)

// SetRunID sets the ID that labels this run's objects. It must be a valid
// label value; the runner passes its own, else RunID makes one.
func SetRunID(id string) {
	if errs := validation.IsValidLabelValue(id); len(errs) > 0 || id == "" {
		panic(fmt.Sprintf("target: run ID %q is not a valid label value: %s", id, strings.Join(errs, "; ")))
	}
	runIDMu.Lock()
	defer runIDMu.Unlock()
	runID = id
}

// RunID returns the run's ID, making one ("r20250102-150405-1a2b3c") on first use.
func RunID() string {
	runIDMu.Lock()
	defer runIDMu.Unlock()
	if runID == "" {
		runID = "r" + time.Now().UTC().Format("20060102-150405") + "-" + randomSuffix(6)
	}
	return runID
}

// randomSuffix returns n lowercase hex characters, valid in any object name.
func randomSuffix(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// specLabels are the labels every created object carries.
func specLabels() map[string]string {
	return map[string]string{LabelRun: RunID(), LabelSpec: "true"}
}
