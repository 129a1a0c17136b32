package target

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2"
)

// FaultsEndpoint is the admin endpoint of a simulated vCenter that takes
// fault rules at run time (capability faultInjection). Only the hermetic
// target has one: a real vCenter's faults come from the world.
type FaultsEndpoint struct {
	URL       string `json:"url" yaml:"url"`             // http://127.0.0.1:PORT
	TokenFile string `json:"tokenFile" yaml:"tokenFile"` // the bearer token, one line
}

// The admin API, on FaultsEndpoint.URL. Every request carries
// "Authorization: Bearer <token>"; bodies and answers are JSON.
const (
	FaultsPath     = "/v1/faults"              // POST a FaultRule -> FaultRuleStatus; GET -> []FaultRuleStatus; DELETE: all rules
	SessionsPath   = "/v1/sessions/invalidate" // POST -> SessionsInvalidated
	OutagePath     = "/v1/outage"              // POST an Outage: vCenter stops answering for its duration
	CallCountsPath = "/v1/calls"               // GET -> VCenterCalls
)

// FaultRule makes the simulated vCenter answer matching calls with a fault,
// or slowly. Method is the vSphere API method as on the wire, whichever
// endpoint serves it: "CnsCreateVolume", "CreateVM_Task", "PbmQueryProfile".
type FaultRule struct {
	Method string `json:"method"`
	// Object is the managed object type the call is on, e.g.
	// "CnsVolumeManager", "VirtualMachine"; "" matches any.
	Object string `json:"object,omitempty"`
	// Fault is the vSphere fault type answered: "SystemError",
	// "NotAuthenticated", "NoPermission", "InvalidArgument", "InvalidState",
	// "ResourceInUse", "NotFound", "InsufficientResourcesFault". "" with a
	// Delay makes the call slow and then succeed.
	Fault   string `json:"fault,omitempty"`
	Message string `json:"message,omitempty"`
	// Times is how many matching calls get the fault, then the rule
	// passes calls through; 0 means every call until the rule is removed.
	Times int `json:"times,omitempty"`
	// Skip lets this many matching calls through before the rule applies.
	Skip int `json:"skip,omitempty"`
	// Probability (0 < p <= 1) that a matching call is hit; 0 means 1.
	Probability float64 `json:"probability,omitempty"`
	// Delay is how long a matching call waits before it is answered.
	Delay Duration `json:"delay,omitempty"`
	// AfterRun makes a hit call do its work and then answer the fault, as
	// when vCenter did the work but lost its result (a CNS task that timed
	// out, vpxd losing the result of a task that created or attached the
	// FCD). A method that returns a task (the CNS volume methods, vim25
	// *_Task) answers a task that completes the work and then ends in state
	// error with the fault, Message as its LocalizedMessage; any other
	// method runs and its SOAP answer is the fault. Needs Fault.
	AfterRun bool `json:"afterRun,omitempty"`
	// TaskDelay makes the task a hit call returns report "running" this
	// much longer than its work takes, then its outcome (or, with AfterRun,
	// the fault): a slow CNS task on a busy vCenter, where the client
	// waits on the task for seconds. Calls that return no task are not
	// changed. Not with a Fault unless AfterRun (a fault answered before
	// the call runs makes no task).
	TaskDelay Duration `json:"taskDelay,omitempty"`
	// Run is the ID of the run that made the rule (InjectFault sets it),
	// so `vsconform cleanup --run-id` can lift what a killed run left.
	Run string `json:"run,omitempty"`
}

// Duration is a time.Duration written as "2s" in JSON.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: want a string like \"2s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %w", s, err)
	}
	if v < 0 {
		return fmt.Errorf("duration %q: negative", s)
	}
	*d = Duration(v)
	return nil
}

// FaultRuleStatus is a rule as the endpoint holds it, with how many calls
// it has hit so far.
type FaultRuleStatus struct {
	ID   string    `json:"id"`
	Rule FaultRule `json:"rule"`
	Hits int64     `json:"hits"`
}

// SessionsInvalidated says how many sessions an invalidation ended.
type SessionsInvalidated struct {
	SOAP int `json:"soap"` // vim25 sessions (SessionManager.TerminateSession)
	REST int `json:"rest"` // vAPI sessions (DELETE of the cis session)
}

// Outage makes vCenter drop every connection and request for Duration,
// then answer again with its state, as after a restart.
type Outage struct {
	Duration Duration `json:"duration"`
}

// VCenterCalls are the calls vCenter served since it started, by endpoint
// ("vim25", "cns", "pbm", "vslm", "vapi") and method.
type VCenterCalls map[string]map[string]int64

// faultsClient talks to the admin endpoint.
type faultsClient struct {
	base  *url.URL
	token string
	http  *http.Client
}

func newFaultsClient(e *FaultsEndpoint) (*faultsClient, error) {
	u, err := url.Parse(e.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("faults.url %q: want http://127.0.0.1:PORT", e.URL)
	}
	tok, err := os.ReadFile(e.TokenFile)
	if err != nil {
		return nil, fmt.Errorf("faults.tokenFile: %w", err)
	}
	token := strings.TrimSpace(string(tok))
	if token == "" {
		return nil, fmt.Errorf("faults.tokenFile %s: empty", e.TokenFile)
	}
	return &faultsClient{base: u, token: token, http: &http.Client{Timeout: time.Minute}}, nil
}

func (c *faultsClient) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.JoinPath(path).String(), body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("fault endpoint: %w", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("fault endpoint: %s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(data)))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("fault endpoint: %s %s: %w", method, path, err)
		}
	}
	return nil
}

// faults is the admin client, or a failed spec when the target has none;
// capability is what the caller needs of it (faultInjection, callCounts).
func (t *Target) faults(capability string) *faultsClient {
	ginkgo.GinkgoHelper()
	t.Require(capability)
	if t.faultsClient == nil {
		if t.Config.Faults == nil {
			ginkgo.Fail("the target declares " + capability + " but its config has no faults endpoint (faults.url, faults.tokenFile)")
		}
		c, err := newFaultsClient(t.Config.Faults)
		if err != nil {
			ginkgo.Fail(err.Error())
		}
		t.faultsClient = c
	}
	return t.faultsClient
}

// InjectFault adds a fault rule to vCenter and registers its removal for
// the end of the spec, so no fault outlives the spec that made it.
func (t *Target) InjectFault(ctx context.Context, r FaultRule) FaultRuleStatus {
	ginkgo.GinkgoHelper()
	c := t.faults(FaultInjection)
	if r.Run == "" {
		r.Run = RunID()
	}
	var st FaultRuleStatus
	if err := c.do(ctx, http.MethodPost, FaultsPath, r, &st); err != nil {
		ginkgo.Fail(fmt.Sprintf("inject fault %s on %s: %v", orAny(r.Fault, "delay"), r.Method, err))
	}
	ginkgo.DeferCleanup(func(ctx context.Context) error { return t.RemoveFault(ctx, st.ID) })
	return st
}

// RemoveFault lifts one rule; removing one already gone is no error.
func (t *Target) RemoveFault(ctx context.Context, id string) error {
	return t.faults(FaultInjection).do(ctx, http.MethodDelete, FaultsPath+"/"+url.PathEscape(id), nil, nil)
}

// FaultHits is how many calls the rule has hit so far.
func (t *Target) FaultHits(ctx context.Context, id string) (int64, error) {
	var rules []FaultRuleStatus
	if err := t.faults(FaultInjection).do(ctx, http.MethodGet, FaultsPath, nil, &rules); err != nil {
		return 0, err
	}
	for _, r := range rules {
		if r.ID == id {
			return r.Hits, nil
		}
	}
	return 0, fmt.Errorf("fault rule %s: not held by the endpoint", id)
}

// InvalidateSessions ends every vCenter session, what clients see after a
// vCenter restart: their next call is NotAuthenticated. The harness's own
// clients are among them; it logs them in again (Relogin) before returning.
func (t *Target) InvalidateSessions(ctx context.Context) (SessionsInvalidated, error) {
	var out SessionsInvalidated
	if err := t.faults(FaultInjection).do(ctx, http.MethodPost, SessionsPath, struct{}{}, &out); err != nil {
		return out, err
	}
	return out, t.Relogin(ctx)
}

// VCenterOutage makes vCenter stop answering for d; it returns at once.
func (t *Target) VCenterOutage(ctx context.Context, d time.Duration) error {
	return t.faults(FaultInjection).do(ctx, http.MethodPost, OutagePath, Outage{Duration: Duration(d)}, nil)
}

// VCenterCalls are vCenter's served calls so far, by endpoint and method
// (capability callCounts).
func (t *Target) VCenterCalls(ctx context.Context) (VCenterCalls, error) {
	var out VCenterCalls
	err := t.faults(CallCounts).do(ctx, http.MethodGet, CallCountsPath, nil, &out)
	return out, err
}

func orAny(s, dflt string) string {
	if s == "" {
		return dflt
	}
	return s
}

// Since is what was served after before was read: the calls an operation cost.
func (c VCenterCalls) Since(before VCenterCalls) VCenterCalls {
	out := VCenterCalls{}
	for endpoint, methods := range c {
		for method, n := range methods {
			if d := n - before[endpoint][method]; d > 0 {
				if out[endpoint] == nil {
					out[endpoint] = map[string]int64{}
				}
				out[endpoint][method] = d
			}
		}
	}
	return out
}

// Total is the number of calls, over every endpoint and method.
func (c VCenterCalls) Total() int64 {
	var n int64
	for _, methods := range c {
		for _, v := range methods {
			n += v
		}
	}
	return n
}

// String lists the calls as "endpoint method=N" sorted, one per line.
func (c VCenterCalls) String() string {
	var lines []string
	for endpoint, methods := range c {
		for method, n := range methods {
			lines = append(lines, fmt.Sprintf("%s %s=%d", endpoint, method, n))
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}
