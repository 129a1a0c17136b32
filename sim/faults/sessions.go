package faults

import (
	"context"
	"crypto/rand"
	"net/http"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// endSOAPSessions ends every vim25 session with
// SessionManager.TerminateSession (vSphere Web Services API), reading them
// from SessionManager.sessionList, and says how many it ended. CNS, PBM and
// VSLM calls authenticate with the same sessions.
//
// The method is called on vcsim's SessionManager with a Context of an admin
// session of its own, not through Service.call: the endpoint's own calls
// must neither consume a fault rule a spec injected (say on
// RetrieveProperties) nor count as a client's calls.
func (s *Server) endSOAPSessions() int {
	vim := s.model.Map()
	sm := vim.SessionManager()
	admin := &simulator.Session{
		UserSession: types.UserSession{Key: "vsconform-faults-" + rand.Text(), UserName: "vsconform-faults"},
		Registry:    simulator.NewRegistry(),
		Map:         vim,
	}
	ctx := &simulator.Context{Context: context.Background(), Map: vim, Session: admin}
	// A session's view of the SessionManager lists every session (sessionList).
	view, ok := admin.Get(sm.Reference()).(*simulator.SessionManager)
	if !ok {
		return 0
	}
	ended := 0
	for _, us := range view.SessionList {
		if us.Key == admin.Key || us.Key == s.internalKey {
			continue
		}
		req := &types.TerminateSession{This: sm.Reference(), SessionId: []string{us.Key}}
		// NotFound: the client logged out meanwhile.
		if res := sm.TerminateSession(ctx, req); res.Fault() == nil {
			ended++
		}
	}
	return ended
}

// endRESTSessions ends every vAPI session seen on a request with the vAPI's
// own session delete (DELETE /rest/com/vmware/cis/session carrying the
// session id), sent to the simulator's handler in process, and says how many
// it ended: a session already gone answers 401.
func (s *Server) endRESTSessions(ctx context.Context) int {
	ended := 0
	for _, id := range s.sessions.take() {
		req, err := http.NewRequestWithContext(ctx, http.MethodDelete, "https://vcenter"+vapiSessionPath, nil)
		if err != nil {
			continue
		}
		req.Header.Set(vapiSessionHeader, id)
		rec := &statusRecorder{header: http.Header{}}
		s.vcenter.ServeHTTP(rec, req)
		if rec.code == 0 || rec.code == http.StatusOK {
			ended++
		}
	}
	return ended
}

// statusRecorder keeps only the status of an answer.
type statusRecorder struct {
	header http.Header
	code   int
}

func (r *statusRecorder) Header() http.Header { return r.header }

func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return len(b), nil
}
