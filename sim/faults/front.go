package faults

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/vmware/govmomi/simulator"
)

// vAPI's session resource and header (vSphere Automation API,
// com.vmware.cis.session; the id also comes as a cookie of that name).
const (
	vapiSessionPath   = "/rest/com/vmware/cis/session"
	vapiSessionHeader = "vmware-api-session-id"
)

// Front puts the endpoint in front of vCenter's HTTPS handler: outages,
// vAPI call counts, the vAPI sessions to end on invalidation and the
// answers of afterRun rules (afterrun.go). Call it right after
// m.Service.NewServer, before any client knows the address.
func (s *Server) Front(srv *simulator.Server) {
	s.vcenter = srv.Config.Handler
	s.dropAll = srv.CloseClientConnections
	srv.Config.Handler = http.HandlerFunc(s.serveVCenter)
	// NewServer already serves, so the write above needs a happens-before
	// edge to the connections that read Handler: RegisterOnShutdown takes
	// the http.Server's mutex, which each new connection takes (trackConn)
	// before it is served.
	srv.Config.RegisterOnShutdown(func() {})
}

// beginOutage starts (or extends) an outage of d and drops the connections
// open now: in-flight calls and long-polls fail as across a restart.
func (s *Server) beginOutage(d time.Duration) {
	until := time.Now().Add(d).UnixNano()
	for {
		cur := s.outage.Load()
		if cur >= until || s.outage.CompareAndSwap(cur, until) {
			break
		}
	}
	if s.dropAll != nil {
		s.dropAll()
	}
}

func (s *Server) inOutage() bool { return time.Now().UnixNano() < s.outage.Load() }

// serveVCenter is vCenter's HTTPS handler with the endpoint in front.
func (s *Server) serveVCenter(w http.ResponseWriter, r *http.Request) {
	if s.inOutage() {
		drop(w)
		return
	}
	p := r.URL.Path
	if !isVAPI(p) {
		if r.Method == http.MethodPost && isSDK(p) && s.afterRunHeld() {
			s.serveAfterRun(w, r)
			return
		}
		s.vcenter.ServeHTTP(w, r)
		return
	}
	s.count("vapi", vapiCallName(r.Method, p, r.URL.Query().Get))
	if id := vapiSession(r); id != "" {
		if r.Method == http.MethodDelete && p == vapiSessionPath {
			defer s.sessions.forget(id) // the client logs out
		} else {
			s.sessions.add(id)
		}
	}
	if r.Method == http.MethodPost && p == vapiSessionPath && r.URL.Query().Get("~action") == "" {
		// A login: the new session's id is the answer's value.
		c := &captureWriter{ResponseWriter: w}
		s.vcenter.ServeHTTP(c, r)
		if c.code == http.StatusOK || c.code == 0 {
			var v struct {
				Value string `json:"value"`
			}
			if json.Unmarshal(c.body.Bytes(), &v) == nil && v.Value != "" {
				s.sessions.add(v.Value)
			}
		}
		return
	}
	s.vcenter.ServeHTTP(w, r)
}

func isVAPI(p string) bool {
	return p == "/rest" || strings.HasPrefix(p, "/rest/") || p == "/api" || strings.HasPrefix(p, "/api/")
}

func vapiSession(r *http.Request) string {
	if id := r.Header.Get(vapiSessionHeader); id != "" {
		return id
	}
	if c, err := r.Cookie(vapiSessionHeader); err == nil {
		return c.Value
	}
	return ""
}

// drop closes the request's connection without an answer, as a listener
// that went away; ErrAbortHandler does the same where hijacking is not
// possible.
func drop(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			_ = c.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// captureWriter keeps a copy of a small answer (a session id).
type captureWriter struct {
	http.ResponseWriter
	code int
	body bytes.Buffer
}

func (c *captureWriter) WriteHeader(code int) {
	c.code = code
	c.ResponseWriter.WriteHeader(code)
}

func (c *captureWriter) Write(b []byte) (int, error) {
	if c.body.Len() < 4096 {
		c.body.Write(b)
	}
	return c.ResponseWriter.Write(b)
}

// restSessions are the vAPI session ids seen since the last invalidation.
// They are credentials: kept in memory only, never logged.
type restSessions struct {
	mu  sync.Mutex
	ids map[string]struct{}
}

func (r *restSessions) add(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ids == nil {
		r.ids = map[string]struct{}{}
	}
	r.ids[id] = struct{}{}
}

func (r *restSessions) forget(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.ids, id)
}

func (r *restSessions) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.ids))
	for id := range r.ids {
		out = append(out, id)
	}
	r.ids = nil
	return out
}
