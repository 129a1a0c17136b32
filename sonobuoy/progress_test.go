package sonobuoy

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/onsi/ginkgo/v2/types"
	"github.com/vmware-tanzu/sonobuoy/pkg/plugin"
)

// progressListener stands in for the worker sidecar on 127.0.0.1.
func progressListener(t *testing.T) (port string, got func() []plugin.ProgressUpdate) {
	var mu sync.Mutex
	var updates []plugin.ProgressUpdate
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var u plugin.ProgressUpdate
		if r.Method != http.MethodPost || r.URL.Path != "/progress" || json.NewDecoder(r.Body).Decode(&u) != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		updates = append(updates, u)
		mu.Unlock()
	}))
	t.Cleanup(s.Close)
	u, _ := url.Parse(s.URL)
	return u.Port(), func() []plugin.ProgressUpdate {
		mu.Lock()
		defer mu.Unlock()
		return append([]plugin.ProgressUpdate(nil), updates...)
	}
}

func spec(text string, state types.SpecState, msg string) types.SpecReport {
	return types.SpecReport{LeafNodeType: types.NodeTypeIt, LeafNodeText: text, State: state, Failure: types.Failure{Message: msg}}
}

func TestProgressPostsAsSpecsFinish(t *testing.T) {
	port, got := progressListener(t)
	var log bytes.Buffer
	p, err := NewProgress(port, &log)
	if err != nil {
		t.Fatal(err)
	}
	p.SuiteWillRun(3)
	for _, r := range []types.SpecReport{
		spec("a", types.SpecStatePassed, ""),
		spec("filtered out", types.SpecStateSkipped, ""),
		spec("b", types.SpecStateFailed, "boom"),
		spec("pending", types.SpecStatePending, ""),
		spec("c", types.SpecStateSkipped, "target lacks capability snapshots"),
		{LeafNodeType: types.NodeTypeBeforeSuite, State: types.SpecStatePassed},
	} {
		p.SpecDone(r)
	}
	ups := got()
	want := []struct {
		completed int64
		failures  int
	}{{0, 0}, {1, 0}, {2, 1}, {3, 1}}
	if len(ups) != len(want) {
		t.Fatalf("%d posts, want %d: %+v", len(ups), len(want), ups)
	}
	for i, w := range want {
		u := ups[i]
		if u.Total != 3 || u.Completed != w.completed || len(u.Failures) != w.failures {
			t.Errorf("post %d: total %d completed %d failures %v, want 3 %d %d", i, u.Total, u.Completed, u.Failures, w.completed, w.failures)
		}
	}
	if ups[3].Failures[0] != "b" || !strings.Contains(ups[2].Message, "failed") {
		t.Errorf("last posts: %+v", ups[2:])
	}
	if log.Len() != 0 {
		t.Errorf("unexpected log: %s", log.String())
	}
}

func TestProgressWithoutWorkerWarnsOnce(t *testing.T) {
	port, _ := progressListener(t)
	var log bytes.Buffer
	p, _ := NewProgress(port, &log)
	p.url = strings.Replace(p.url, "/progress", "/nowhere", 1) // answered 400
	p.SuiteWillRun(2)
	p.SpecDone(spec("a", types.SpecStatePassed, ""))
	if n := strings.Count(log.String(), "\n"); n != 1 || !strings.Contains(log.String(), "400") {
		t.Errorf("want one warning line naming the status, got %q", log.String())
	}
}

func TestNewProgressPort(t *testing.T) {
	for _, c := range []struct {
		port, wantURL, wantErr string
	}{
		{"", "http://127.0.0.1:8099/progress", ""},
		{"9000", "http://127.0.0.1:9000/progress", ""},
		{"http", "", "not a port"},
		{"70000", "", "not a port"},
	} {
		p, err := NewProgress(c.port, nil)
		switch {
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("%q: error %v, want %q", c.port, err, c.wantErr)
		case c.wantErr == "" && (err != nil || p.url != c.wantURL):
			t.Errorf("%q: %v %v, want %s", c.port, p, err, c.wantURL)
		}
	}
}
