package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/vsphere-conformance/vsphere-conformance/reports"
)

// statusLine keeps a live "done/total, failures, elapsed, ETA" line at the
// bottom of a terminal, below the per-spec lines written through it. On
// anything else it writes the lines alone.
type statusLine struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	start time.Time
	now   func() time.Time

	stop chan struct{} // ends the ticker that keeps "elapsed" moving

	total, done, failed int
	// From the last run with the same filters: each spec's duration, and
	// what is left of their sum (the ETA); nil when there is none.
	last     map[string]time.Duration
	lastLeft time.Duration
	doneAt   time.Time // when the last spec finished
}

func newStatusLine(w io.Writer, last map[string]time.Duration) *statusLine {
	s := &statusLine{w: w, last: last, now: time.Now}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		s.tty = true
	}
	for _, d := range last {
		s.lastLeft += d
	}
	return s
}

// Write writes whole lines above the status line.
func (s *statusLine) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.tty {
		return s.w.Write(p)
	}
	io.WriteString(s.w, "\r\033[K")
	n, err := s.w.Write(p)
	if s.total > 0 {
		io.WriteString(s.w, s.text())
	}
	return n, err
}

func (s *statusLine) begin(total int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total, s.start = total, s.now()
	s.doneAt = s.start
	if !s.tty || s.stop != nil {
		return
	}
	// A spec can take minutes: redraw every second so the line stays true.
	s.stop = make(chan struct{})
	go func(stop chan struct{}) {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				s.mu.Lock()
				if s.total > 0 {
					io.WriteString(s.w, "\r\033[K"+s.text())
				}
				s.mu.Unlock()
			}
		}
	}(s.stop)
}

// specDone counts a spec that ran or was skipped at run time.
func (s *statusLine) specDone(name string, failed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.done++
	s.doneAt = s.now()
	if failed {
		s.failed++
	}
	if d, ok := s.last[name]; ok {
		s.lastLeft -= d
	}
}

// end clears the status line.
func (s *statusLine) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stop != nil {
		close(s.stop)
		s.stop = nil
	}
	if s.tty && s.total > 0 {
		io.WriteString(s.w, "\r\033[K")
	}
	s.total = 0
}

func (s *statusLine) text() string {
	elapsed := s.now().Sub(s.start).Round(time.Second)
	t := fmt.Sprintf("[%d/%d] %d failed, %s elapsed", s.done, s.total, s.failed, elapsed)
	if s.last != nil && s.done < s.total {
		// The running spec counts down from its last duration.
		left := s.lastLeft - s.now().Sub(s.doneAt)
		t += fmt.Sprintf(", ETA %s", max(left, 0).Round(time.Second))
	}
	return t
}

// lastRunDurations reads the newest earlier run in resultsDir with the same
// target, label filter and focus, and returns how long each of its specs
// that ran took (nil when there is no such run).
func lastRunDurations(resultsDir, targetName, labelFilter, focus string) map[string]time.Duration {
	dirs, _ := filepath.Glob(filepath.Join(resultsDir, "*", reports.JSONFile))
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	for _, f := range dirs {
		run, err := reports.Load(filepath.Dir(f))
		if err != nil || run.Target != targetName || run.LabelFilter != labelFilter || run.Focus != focus {
			continue
		}
		out := map[string]time.Duration{}
		for _, sp := range run.Specs {
			if sp.State != reports.StateSkipped || sp.SkipReason != "" {
				out[sp.Name] = sp.Duration
			}
		}
		return out
	}
	return nil
}
