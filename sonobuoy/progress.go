package sonobuoy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/onsi/ginkgo/v2/types"
	"github.com/vmware-tanzu/sonobuoy/pkg/plugin"
)

// DefaultProgressPort is the worker sidecar's port when
// SONOBUOY_PROGRESS_PORT is unset.
const DefaultProgressPort = "8099"

// postTimeout bounds one progress post: the worker is on loopback, and a
// run must never wait on its progress display.
const postTimeout = 2 * time.Second

// Progress posts Sonobuoy progress updates (completed/total/failures) to the
// worker sidecar, which relays them to the aggregator for `sonobuoy status`.
// Posting is best effort: the first failure is logged, none fails the run.
type Progress struct {
	url    string
	client *http.Client
	log    io.Writer

	mu        sync.Mutex
	total     int64
	completed int64
	failures  []string
	warned    bool
}

// NewProgress posts to 127.0.0.1:port/progress (the worker shares the pod's
// network namespace; it listens on every address, loopback included).
func NewProgress(port string, log io.Writer) (*Progress, error) {
	if port == "" {
		port = DefaultProgressPort
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return nil, fmt.Errorf("SONOBUOY_PROGRESS_PORT %q: not a port number", port)
	}
	return &Progress{
		url:    "http://127.0.0.1:" + port + "/progress",
		client: &http.Client{Timeout: postTimeout},
		log:    log,
	}, nil
}

// SuiteWillRun posts the number of specs the run will execute.
func (p *Progress) SuiteWillRun(total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total = int64(total)
	p.post("starting")
}

// SpecDone counts a finished spec and posts the new totals.
func (p *Progress) SpecDone(r types.SpecReport) {
	if !ran(r) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.completed++
	if r.State.Is(types.SpecStateFailureStates) {
		p.failures = append(p.failures, r.FullText())
	}
	p.post(r.State.String() + ": " + r.FullText())
}

// ran tells specs the run executed (passed, failed, or skipped by the spec
// itself, e.g. a missing capability) from those the label filter left out,
// which Ginkgo also reports as skipped, with no message.
func ran(r types.SpecReport) bool {
	if r.LeafNodeType != types.NodeTypeIt || r.State == types.SpecStatePending {
		return false
	}
	return r.State != types.SpecStateSkipped || r.Failure.Message != ""
}

// post sends the current totals; p.mu is held.
func (p *Progress) post(msg string) {
	u := plugin.ProgressUpdate{
		Timestamp: time.Now(),
		Message:   msg,
		Total:     p.total,
		Completed: p.completed,
		Failures:  append([]string(nil), p.failures...),
	}
	body, err := json.Marshal(u)
	if err == nil {
		var resp *http.Response
		if resp, err = p.client.Post(p.url, "application/json", bytes.NewReader(body)); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode/100 != 2 {
				err = fmt.Errorf("%s", resp.Status)
			}
		}
	}
	if err != nil && !p.warned && p.log != nil {
		p.warned = true
		fmt.Fprintf(p.log, "sonobuoy: progress updates to %s fail (%v); the run goes on without them\n", p.url, err)
	}
}
