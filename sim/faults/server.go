package faults

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vmware/govmomi/cns"
	"github.com/vmware/govmomi/pbm"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vslm"

	"github.com/vsphere-conformance/vsphere-conformance/sim/loopback"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// Options say where the endpoint listens and which token it takes.
type Options struct {
	// Addr is host:port; the host must be a loopback IPv4 address.
	// Default 127.0.0.1:0 (a free port).
	Addr string
	// Token is the bearer token every request must carry; "" makes a
	// random one (see Server.Token).
	Token string
	// Components, when set, serves ComponentsPath (the stack's processes).
	Components Components
}

// MaxOutage bounds one outage: a longer one is a mistake, not a restart.
const MaxOutage = time.Hour

// Server is the admin endpoint of one simulated vCenter. Its life follows
// the simulator's: New, Attach (before vCenter serves), Front (as soon as
// its HTTPS server exists), Start (once vCenter is ready), Close.
type Server struct {
	addr  string
	token []byte

	model *simulator.Model
	svc   *simulator.Service
	// internalKey is the session of the simulator's in-process client,
	// whose calls are the simulator's own work, not a client's.
	internalKey string

	mu     sync.Mutex // rules, next, and every change to the injector's rules
	rules  []*rule
	next   int
	counts calls

	counting atomic.Bool
	outage   atomic.Int64 // unix nanoseconds the current outage ends
	vcenter  http.Handler // the simulator's HTTPS handler, unwrapped
	dropAll  func()       // closes every client connection of vCenter
	sessions restSessions

	components Components

	http     *http.Server
	listener net.Listener
	done     chan struct{}
	close    sync.Once
}

// New checks o and makes a server; nothing listens before Start.
func New(o Options) (*Server, error) {
	// Loopback only: the endpoint can end every session of vCenter.
	addr, err := loopback.ListenAddr(o.Addr)
	if err != nil {
		return nil, fmt.Errorf("faults: %w", err)
	}
	token := o.Token
	if token == "" {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("faults: token: %w", err)
		}
		token = hex.EncodeToString(b)
	}
	return &Server{addr: addr, token: []byte(token), done: make(chan struct{}), counts: calls{}, components: o.Components}, nil
}

// Token is the bearer token, for the caller to hand to clients; never log it.
func (s *Server) Token() string { return string(s.token) }

// URL is http://127.0.0.1:PORT once started.
func (s *Server) URL() string {
	if s.listener == nil {
		return ""
	}
	return "http://" + s.listener.Addr().String()
}

// sdks are the endpoints whose calls are counted and delayed, by the path
// of their registry (vim25 is the model's own registry).
var sdks = []struct{ endpoint, path string }{
	{"cns", cns.Path}, // with vSAN, which shares /vsanHealth
	{"pbm", pbm.Path},
	{"vslm", vslm.Path},
}

// Attach installs the call hooks on every SDK registry of m and takes its
// fault injector. Call it after the SDKs are registered and the simulator's
// extensions installed, before m.Service.NewServer: Registry.Handler is
// only written before traffic starts.
func (s *Server) Attach(ctx context.Context, m *simulator.Model) error {
	if m == nil || m.Service == nil || m.Service.Context == nil {
		return errors.New("faults: Attach needs a created model")
	}
	if s.svc != nil {
		return errors.New("faults: already attached")
	}
	s.model, s.svc = m, m.Service
	key, err := internalSession(ctx, m.Service)
	if err != nil {
		return fmt.Errorf("faults: %w", err)
	}
	s.internalKey = key
	s.hook(m.Map(), "vim25")
	for _, sdk := range sdks {
		r := m.Service.Context.For(sdk.path).Map
		if r == nil {
			return fmt.Errorf("faults: the %s SDK (%s) must be registered before Attach", sdk.endpoint, sdk.path)
		}
		s.hook(r, sdk.endpoint)
	}
	return nil
}

// internalSession is the key of the session govmomi's in-process client
// (vim25.NewClient on the Service) calls with.
func internalSession(ctx context.Context, svc *simulator.Service) (string, error) {
	c, err := vim25.NewClient(ctx, svc)
	if err != nil {
		return "", err
	}
	var sm mo.SessionManager
	if err := property.DefaultCollector(c).RetrieveOne(ctx, *c.ServiceContent.SessionManager, []string{"currentSession"}, &sm); err != nil {
		return "", err
	}
	if sm.CurrentSession == nil {
		return "", errors.New("in-process client has no session")
	}
	return sm.CurrentSession.Key, nil
}

// hook counts the calls r dispatches and applies the first rule each one
// hits: it waits the rule's delay, then has its fault answered (by the
// injector, before the method runs; for an afterRun rule by the front,
// once it has run) or goes on. It then runs the hook installed before (the
// simulator's extensions choose handlers there): Registry.Handler is a
// single slot, so it is chained, never replaced.
func (s *Server) hook(r *simulator.Registry, endpoint string) {
	prev := r.Handler
	r.Handler = func(ctx *simulator.Context, m *simulator.Method) (mo.Reference, types.BaseMethodFault) {
		if ctx.Session == nil || ctx.Session.Key != s.internalKey {
			s.count(endpoint, m.Name)
			if d := s.hit(m); d > 0 {
				s.sleep(d)
			}
		}
		if prev != nil {
			return prev(ctx, m)
		}
		return nil, nil
	}
}

// hit applies the first rule the call hits: a fault rule's hit is left
// pending for its injection rule, which Service.call checks once the
// call's handler is known; an afterRun rule's for the front, which sees
// the call's answer. It returns the rule's delay.
func (s *Server) hit(m *simulator.Method) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.rules {
		if r.match(m) {
			switch {
			case r.inject != nil:
				r.pending.Add(1)
			case r.spec.AfterRun || r.spec.TaskDelay > 0:
				r.after++
			}
			return time.Duration(r.spec.Delay)
		}
	}
	return 0
}

func (s *Server) sleep(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.done:
	}
}

// Start serves the admin API; vCenter is ready, so calls count from now.
func (s *Server) Start() error {
	if s.svc == nil || s.vcenter == nil {
		return errors.New("faults: Start before Attach and Front")
	}
	l, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("faults: listen on %s: %w", s.addr, err)
	}
	s.listener = l
	s.http = &http.Server{Handler: s.api(), ReadHeaderTimeout: 10 * time.Second}
	s.counting.Store(true)
	go func() { _ = s.http.Serve(l) }()
	return nil
}

// Close stops the admin API and lets delayed calls go; the fault rules
// stay with the simulator, which the caller closes.
func (s *Server) Close() error {
	var err error
	s.close.Do(func() {
		close(s.done)
		if s.http != nil {
			err = s.http.Close()
		}
	})
	return err
}

// api is the admin API of target/faults.go.
func (s *Server) api() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+target.FaultsPath, s.addRule)
	mux.HandleFunc("GET "+target.FaultsPath, s.listRules)
	mux.HandleFunc("DELETE "+target.FaultsPath, s.clearRules)
	mux.HandleFunc("DELETE "+target.FaultsPath+"/{id}", s.removeRule)
	mux.HandleFunc("POST "+target.SessionsPath, s.invalidateSessions)
	mux.HandleFunc("POST "+target.OutagePath, s.startOutage)
	mux.HandleFunc("GET "+target.CallCountsPath, s.callCounts)
	mux.HandleFunc("GET "+target.ComponentsPath, s.listComponents)
	mux.HandleFunc("POST "+target.ComponentsPath+"/{name}", s.componentAction)
	return s.authorized(mux)
}

// authorized answers 401 to any request without the bearer token.
func (s *Server) authorized(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), s.token) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="vsconform-faults"`)
			http.Error(w, "unauthorized: want Authorization: Bearer <token of faults.tokenFile>", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (s *Server) addRule(w http.ResponseWriter, r *http.Request) {
	var spec target.FaultRule
	if err := decode(r, &spec); err != nil {
		http.Error(w, "fault rule: "+err.Error(), http.StatusBadRequest)
		return
	}
	if err := validate(spec); err != nil {
		http.Error(w, "fault rule: "+err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.next++
	ru := &rule{id: fmt.Sprintf("f%d", s.next), spec: spec}
	if spec.Fault != "" && !spec.AfterRun {
		ru.inject = s.injectionRule(ru)
		s.svc.AddFaultRule(ru.inject)
	}
	s.rules = append(s.rules, ru)
	st := target.FaultRuleStatus{ID: ru.id, Rule: spec}
	s.mu.Unlock()
	reply(w, http.StatusCreated, st)
}

func (s *Server) listRules(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	out := s.statuses()
	s.mu.Unlock()
	reply(w, http.StatusOK, out)
}

func (s *Server) clearRules(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	for _, r := range s.rules {
		if r.inject != nil {
			s.removeInjected(r.inject)
		}
	}
	s.rules = nil
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// removeRule lifts one rule; an unknown id is already lifted (204 too).
func (s *Server) removeRule(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	for i, ru := range s.rules {
		if ru.id == id {
			if ru.inject != nil {
				s.removeInjected(ru.inject)
			}
			s.rules = append(s.rules[:i], s.rules[i+1:]...)
			break
		}
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) invalidateSessions(w http.ResponseWriter, r *http.Request) {
	out := target.SessionsInvalidated{SOAP: s.endSOAPSessions(), REST: s.endRESTSessions(r.Context())}
	reply(w, http.StatusOK, out)
}

func (s *Server) startOutage(w http.ResponseWriter, r *http.Request) {
	var o target.Outage
	if err := decode(r, &o); err != nil {
		http.Error(w, "outage: "+err.Error(), http.StatusBadRequest)
		return
	}
	d := time.Duration(o.Duration)
	if d <= 0 || d > MaxOutage {
		http.Error(w, fmt.Sprintf("outage: duration %s is not in (0, %s]", d, MaxOutage), http.StatusBadRequest)
		return
	}
	s.beginOutage(d)
	reply(w, http.StatusAccepted, o)
}

func (s *Server) callCounts(w http.ResponseWriter, _ *http.Request) {
	reply(w, http.StatusOK, s.snapshot())
}

// decode reads one JSON value of at most 1 MiB, with no unknown fields.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("empty body: want a JSON object")
		}
		return fmt.Errorf("bad JSON: %v", err)
	}
	if dec.More() {
		return errors.New("bad JSON: more than one value")
	}
	return nil
}

func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// removeInjected takes fr out of the fault injector, under Server.mu.
func (s *Server) removeInjected(fr *simulator.FaultInjectionRule) {
	for i, x := range s.svc.GetFaultRules() {
		if x == fr {
			s.svc.RemoveFaultRule(i)
			return
		}
	}
}
