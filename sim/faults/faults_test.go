package faults_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/cns"
	cnssim "github.com/vmware/govmomi/cns/simulator"
	cnstypes "github.com/vmware/govmomi/cns/types"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/pbm"
	pbmsim "github.com/vmware/govmomi/pbm/simulator"
	pbmtypes "github.com/vmware/govmomi/pbm/types"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vapi/rest"
	"github.com/vmware/govmomi/vapi/tags"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	vslmsim "github.com/vmware/govmomi/vslm/simulator"

	"github.com/vsphere-conformance/vsphere-conformance/sim/faults"
	"github.com/vsphere-conformance/vsphere-conformance/sim/vcenter"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

const (
	testUser     = "administrator@vsphere.local"
	testPassword = "correct horse"
)

// model is a small valid inventory (as sim/vcenter's tests use).
const model = `
vcenter: {version: "8.0.3"}
datacenters:
  - name: DC0
    clusters:
      - name: cluster-a
        hosts: 1
tagCategories:
  - {name: k8s-zone, cardinality: SINGLE, associableTypes: [ClusterComputeResource, HostSystem]}
tags:
  - {name: zone-a, category: k8s-zone}
nodes:
  - {name: node-a, cluster: cluster-a, ip: 10.0.0.11}
storagePolicies:
  - {name: gold}
`

// One simulator serves every test (they run one after another and clean
// their rules up): starting one costs seconds.
var (
	simOnce sync.Once
	simSrv  *vcenter.Server
	simErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if simSrv != nil {
		_ = simSrv.Close()
	}
	os.Exit(code)
}

func startSim(t *testing.T) *vcenter.Server {
	t.Helper()
	simOnce.Do(func() {
		m, err := vcenter.LoadModel([]byte(model))
		if err != nil {
			simErr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		simSrv, simErr = vcenter.Start(ctx, m, vcenter.Options{Password: testPassword, Faults: &faults.Options{}})
	})
	if simErr != nil {
		t.Fatal(simErr)
	}
	t.Cleanup(func() { admin(t, simSrv, http.MethodDelete, target.FaultsPath, nil, http.StatusNoContent, nil) })
	return simSrv
}

// endpoint is a simulated vCenter with a fault endpoint: *vcenter.Server,
// or stock vcsim with one (stockSim).
type endpoint interface{ Faults() *faults.Server }

// call sends one admin request with token tok and returns status and body.
func call(t *testing.T, s endpoint, tok, method, path string, body any) (int, []byte) {
	t.Helper()
	var r io.Reader
	if b, ok := body.(string); ok {
		r = strings.NewReader(b)
	} else if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, s.Faults().URL()+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return res.StatusCode, data
}

// admin sends an authorised request, wants status code and decodes into out.
func admin(t *testing.T, s endpoint, method, path string, body any, code int, out any) {
	t.Helper()
	got, data := call(t, s, s.Faults().Token(), method, path, body)
	if got != code {
		t.Fatalf("%s %s: %d %s, want %d", method, path, got, strings.TrimSpace(string(data)), code)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
	}
}

func inject(t *testing.T, s endpoint, r target.FaultRule) target.FaultRuleStatus {
	t.Helper()
	var st target.FaultRuleStatus
	admin(t, s, http.MethodPost, target.FaultsPath, r, http.StatusCreated, &st)
	return st
}

func hits(t *testing.T, s endpoint, id string) int64 {
	t.Helper()
	var rules []target.FaultRuleStatus
	admin(t, s, http.MethodGet, target.FaultsPath, nil, http.StatusOK, &rules)
	for _, r := range rules {
		if r.ID == id {
			return r.Hits
		}
	}
	t.Fatalf("rule %s not listed in %+v", id, rules)
	return 0
}

func counts(t *testing.T, s endpoint) target.VCenterCalls {
	t.Helper()
	var c target.VCenterCalls
	admin(t, s, http.MethodGet, target.CallCountsPath, nil, http.StatusOK, &c)
	return c
}

// login connects as a CSI driver does: verified TLS, then a SOAP login.
func login(t *testing.T, ctx context.Context, s *vcenter.Server) *vim25.Client {
	t.Helper()
	sc := soap.NewClient(s.URL(), false)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.CACertPEM())
	sc.DefaultTransport().TLSClientConfig.RootCAs = pool
	vc, err := vim25.NewClient(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	if err := session.NewManager(vc).Login(ctx, url.UserPassword(testUser, testPassword)); err != nil {
		t.Fatal(err)
	}
	return vc
}

func restLogin(t *testing.T, ctx context.Context, vc *vim25.Client) *rest.Client {
	t.Helper()
	rc := rest.NewClient(vc)
	if err := rc.Login(ctx, url.UserPassword(testUser, testPassword)); err != nil {
		t.Fatal(err)
	}
	return rc
}

// vimFault is the type name of the vSphere fault in a SOAP fault error
// ("SystemError"), or "".
func vimFault(err error) string {
	if err == nil || !soap.IsSoapFault(err) {
		return ""
	}
	f := soap.ToSoapFault(err).VimFault()
	if f == nil {
		return ""
	}
	return reflect.Indirect(reflect.ValueOf(f)).Type().Name()
}

func currentTime(ctx context.Context, vc *vim25.Client) error {
	_, err := methods.GetCurrentTime(ctx, vc)
	return err
}

func TestNewRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "10.0.0.1:8080", "[::1]:0", "example.com:80", "nonsense"} {
		if _, err := faults.New(faults.Options{Addr: addr}); err == nil {
			t.Errorf("New(%q) accepted a non-loopback address", addr)
		}
	}
	s, err := faults.New(faults.Options{})
	if err != nil || len(s.Token()) < 32 {
		t.Errorf("New() = token of %d characters, %v; want a random token", len(s.Token()), err)
	}
}

func TestAuthRequired(t *testing.T) {
	s := startSim(t)
	paths := []struct{ method, path string }{
		{http.MethodGet, target.FaultsPath},
		{http.MethodPost, target.FaultsPath},
		{http.MethodDelete, target.FaultsPath},
		{http.MethodDelete, target.FaultsPath + "/f1"},
		{http.MethodPost, target.SessionsPath},
		{http.MethodPost, target.OutagePath},
		{http.MethodGet, target.CallCountsPath},
		{http.MethodGet, "/nowhere"},
	}
	tokens := []struct{ name, header string }{
		{"no header", ""},
		{"wrong token", "Bearer not-the-token"},
		{"token prefix", "Bearer " + s.Faults().Token()[:10]},
		{"basic", "Basic " + s.Faults().Token()},
		{"bare token", s.Faults().Token()},
	}
	for _, p := range paths {
		for _, tok := range tokens {
			t.Run(p.method+" "+p.path+" "+tok.name, func(t *testing.T) {
				req, _ := http.NewRequest(p.method, s.Faults().URL()+p.path, strings.NewReader(`{"method":"CurrentTime","fault":"SystemError"}`))
				if tok.header != "" {
					req.Header.Set("Authorization", tok.header)
				}
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusUnauthorized {
					t.Errorf("status %d, want 401", res.StatusCode)
				}
				if strings.Contains(string(body), s.Faults().Token()) {
					t.Error("the 401 answer carries the token")
				}
			})
		}
	}
	var rules []target.FaultRuleStatus
	admin(t, s, http.MethodGet, target.FaultsPath, nil, http.StatusOK, &rules)
	if len(rules) != 0 {
		t.Errorf("unauthorised requests added rules: %+v", rules)
	}
}

func TestRuleValidation(t *testing.T) {
	s := startSim(t)
	bad := []struct {
		name string
		body any
		want string
	}{
		{"no method", target.FaultRule{Fault: "SystemError"}, "method is required"},
		{"partial wildcard method", target.FaultRule{Method: "Cns*", Fault: "SystemError"}, "not a vSphere API method name"},
		{"method with spaces", target.FaultRule{Method: "Create VM", Fault: "SystemError"}, "not a vSphere API method name"},
		{"bad object", target.FaultRule{Method: "CreateVM_Task", Object: "Virtual Machine", Fault: "SystemError"}, "not a managed object type"},
		{"unknown fault", target.FaultRule{Method: "CnsCreateVolume", Fault: "Timeout"}, `fault "Timeout" is not one of SystemError, NotAuthenticated`},
		{"fault in wrong case", target.FaultRule{Method: "CnsCreateVolume", Fault: "systemerror"}, "is not one of"},
		{"negative probability", target.FaultRule{Method: "CnsCreateVolume", Fault: "SystemError", Probability: -0.1}, "probability -0.1 is not in [0, 1]"},
		{"probability above 1", target.FaultRule{Method: "CnsCreateVolume", Fault: "SystemError", Probability: 1.5}, "probability 1.5 is not in [0, 1]"},
		{"no fault, no delay", target.FaultRule{Method: "CnsCreateVolume"}, "needs a delay or taskDelay > 0"},
		{"negative times", target.FaultRule{Method: "CnsCreateVolume", Fault: "SystemError", Times: -1}, "times -1 is negative"},
		{"negative skip", target.FaultRule{Method: "CnsCreateVolume", Fault: "SystemError", Skip: -2}, "skip -2 is negative"},
		{"afterRun without fault", target.FaultRule{Method: "CnsCreateVolume", AfterRun: true}, "afterRun needs a fault"},
		{"afterRun with only a delay", target.FaultRule{Method: "CnsCreateVolume", AfterRun: true, Delay: target.Duration(time.Second)}, "afterRun needs a fault"},
		{"taskDelay with a fault before the call", target.FaultRule{Method: "CnsCreateVolume", Fault: "SystemError", TaskDelay: target.Duration(time.Second)}, "taskDelay with a fault needs afterRun"},
		{"negative taskDelay", `{"method":"CnsCreateVolume","taskDelay":"-1s"}`, "negative"},
		{"negative delay", `{"method":"CnsCreateVolume","delay":"-1s"}`, "negative"},
		{"delay not a duration", `{"method":"CnsCreateVolume","delay":"soon"}`, "duration"},
		{"unknown field", `{"method":"CnsCreateVolume","fault":"SystemError","count":1}`, `unknown field "count"`},
		{"not JSON", `method=CnsCreateVolume`, "bad JSON"},
		{"empty body", ``, "empty body"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			code, body := call(t, s, s.Faults().Token(), http.MethodPost, target.FaultsPath, tc.body)
			msg := strings.TrimSpace(string(body))
			if code != http.StatusBadRequest || !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Errorf("%d %q, want 400 with one line containing %q", code, msg, tc.want)
			}
		})
	}
	var rules []target.FaultRuleStatus
	admin(t, s, http.MethodGet, target.FaultsPath, nil, http.StatusOK, &rules)
	if len(rules) != 0 {
		t.Fatalf("bad rules were kept: %+v", rules)
	}

	t.Run("good rules", func(t *testing.T) {
		good := []target.FaultRule{
			{Method: "CnsCreateVolume", Fault: "SystemError", Message: "m", Times: 1},
			{Method: "CreateVM_Task", Object: "Folder", Fault: "InsufficientResourcesFault", Probability: 0.5, Skip: 2},
			{Method: "PbmQueryProfile", Delay: target.Duration(time.Second)},
			{Method: "CnsAttachVolume", Fault: "ResourceInUse", Delay: target.Duration(10 * time.Millisecond)},
			{Method: "CnsCreateVolume", Object: "CnsVolumeManager", Fault: "SystemError", AfterRun: true, Times: 1},
		}
		var ids []string
		for _, r := range good {
			st := inject(t, s, r)
			if !strings.HasPrefix(st.ID, "f") || st.Hits != 0 || !reflect.DeepEqual(st.Rule, r) {
				t.Errorf("POST %+v = %+v", r, st)
			}
			ids = append(ids, st.ID)
		}
		var rules []target.FaultRuleStatus
		admin(t, s, http.MethodGet, target.FaultsPath, nil, http.StatusOK, &rules)
		if len(rules) != len(good) {
			t.Fatalf("GET = %+v, want the %d rules", rules, len(good))
		}
		for i, r := range rules {
			if r.ID != ids[i] || !reflect.DeepEqual(r.Rule, good[i]) {
				t.Errorf("rule %d = %+v, want %s %+v", i, r, ids[i], good[i])
			}
		}
		admin(t, s, http.MethodDelete, target.FaultsPath+"/"+ids[1], nil, http.StatusNoContent, nil)
		admin(t, s, http.MethodDelete, target.FaultsPath+"/"+ids[1], nil, http.StatusNoContent, nil) // gone already
		admin(t, s, http.MethodDelete, target.FaultsPath+"/f999999", nil, http.StatusNoContent, nil)
		admin(t, s, http.MethodGet, target.FaultsPath, nil, http.StatusOK, &rules)
		if len(rules) != len(good)-1 || rules[1].ID != ids[2] {
			t.Errorf("after removing %s: %+v", ids[1], rules)
		}
		admin(t, s, http.MethodDelete, target.FaultsPath, nil, http.StatusNoContent, nil)
		admin(t, s, http.MethodGet, target.FaultsPath, nil, http.StatusOK, &rules)
		if len(rules) != 0 {
			t.Errorf("after DELETE all: %+v", rules)
		}
		if got := len(s.Sim().Service.GetFaultRules()); got != 0 {
			t.Errorf("the simulator still holds %d fault rules", got)
		}
	})
}

// A fault rule reaches a govmomi client as the vSphere fault type, on each
// SDK, Times calls and then passes calls through.
func TestFaultReachesClient(t *testing.T) {
	s := startSim(t)
	ctx := context.Background()
	vc := login(t, ctx, s)
	cc, err := cns.NewClient(ctx, vc)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := pbm.NewClient(ctx, vc)
	if err != nil {
		t.Fatal(err)
	}
	folder := object.NewFolder(vc, vc.ServiceContent.RootFolder)
	cases := []struct {
		name string
		rule target.FaultRule
		call func() error
		want string
	}{
		{"vim25 SystemError", target.FaultRule{Method: "CurrentTime", Fault: "SystemError", Message: "vsconform test fault"},
			func() error { return currentTime(ctx, vc) }, "SystemError"},
		{"vim25 on an object type", target.FaultRule{Method: "CreateFolder", Object: "Folder", Fault: "NoPermission"},
			func() error {
				f, err := folder.CreateFolder(ctx, "faults-test-"+fmt.Sprint(time.Now().UnixNano()))
				if err == nil {
					_, _ = f.Destroy(ctx)
				}
				return err
			}, "NoPermission"},
		{"vim25 NotAuthenticated", target.FaultRule{Method: "CurrentTime", Fault: "NotAuthenticated"},
			func() error { return currentTime(ctx, vc) }, "NotAuthenticated"},
		{"CNS create", target.FaultRule{Method: "CnsCreateVolume", Object: "CnsVolumeManager", Fault: "SystemError", Message: "vsconform: transient CNS create fault"},
			func() error {
				_, err := cc.CreateVolume(ctx, []cnstypes.CnsVolumeCreateSpec{{
					Name: "faults-test", VolumeType: string(cnstypes.CnsVolumeTypeBlock),
					BackingObjectDetails: &cnstypes.CnsBlockBackingDetails{CnsBackingObjectDetails: cnstypes.CnsBackingObjectDetails{CapacityInMb: 1}},
				}})
				return err
			}, "SystemError"},
		{"CNS query", target.FaultRule{Method: "CnsQueryVolume", Fault: "NotFound"},
			func() error { _, err := cc.QueryVolume(ctx, &cnstypes.CnsQueryFilter{}); return err }, "NotFound"},
		{"PBM", target.FaultRule{Method: "PbmQueryProfile", Fault: "InvalidState"},
			func() error {
				_, err := pc.QueryProfile(ctx, pbmtypes.PbmProfileResourceType{ResourceType: string(pbmtypes.PbmProfileResourceTypeEnumSTORAGE)}, "")
				return err
			}, "InvalidState"},
		{"vim25 InsufficientResourcesFault", target.FaultRule{Method: "CurrentTime", Fault: "InsufficientResourcesFault"},
			func() error { return currentTime(ctx, vc) }, "InsufficientResourcesFault"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); err != nil {
				t.Fatalf("before the rule: %v", err)
			}
			r := tc.rule
			r.Times = 1
			st := inject(t, s, r)
			defer admin(t, s, http.MethodDelete, target.FaultsPath+"/"+st.ID, nil, http.StatusNoContent, nil)

			err := tc.call()
			if got := vimFault(err); got != tc.want {
				t.Fatalf("first call: %v (fault %q), want a %s", err, got, tc.want)
			}
			if r.Message != "" && !strings.Contains(err.Error(), r.Message) {
				t.Errorf("fault %q does not carry the message %q", err, r.Message)
			}
			if err := tc.call(); err != nil {
				t.Errorf("second call (Times=1 spent): %v", err)
			}
			if h := hits(t, s, st.ID); h != 1 {
				t.Errorf("hits = %d, want 1", h)
			}
		})
	}

	t.Run("skip and every call", func(t *testing.T) {
		st := inject(t, s, target.FaultRule{Method: "CurrentTime", Fault: "InvalidArgument", Skip: 2})
		for i := range 5 {
			err := currentTime(ctx, vc)
			if hit := vimFault(err) == "InvalidArgument"; hit != (i >= 2) {
				t.Errorf("call %d: %v", i, err)
			}
		}
		if h := hits(t, s, st.ID); h != 3 {
			t.Errorf("hits = %d, want 3", h)
		}
	})
}

func TestDelayRule(t *testing.T) {
	s := startSim(t)
	ctx := context.Background()
	vc := login(t, ctx, s)
	const delay = 600 * time.Millisecond
	timed := func() (time.Duration, error) {
		start := time.Now()
		err := currentTime(ctx, vc)
		return time.Since(start), err
	}
	if d, err := timed(); err != nil || d >= delay {
		t.Fatalf("before the rule: %s, %v", d, err)
	}
	st := inject(t, s, target.FaultRule{Method: "CurrentTime", Object: "ServiceInstance", Delay: target.Duration(delay), Times: 1})
	if d, err := timed(); err != nil || d < delay {
		t.Errorf("delayed call: %s, %v; want success after >= %s", d, err, delay)
	}
	if d, err := timed(); err != nil || d >= delay {
		t.Errorf("call after Times=1: %s, %v; want fast", d, err)
	}
	if h := hits(t, s, st.ID); h != 1 {
		t.Errorf("hits = %d, want 1", h)
	}
	// A rule on another object type does not delay the call.
	other := inject(t, s, target.FaultRule{Method: "CurrentTime", Object: "VirtualMachine", Delay: target.Duration(delay)})
	if d, err := timed(); err != nil || d >= delay {
		t.Errorf("call not matching the object: %s, %v", d, err)
	}
	admin(t, s, http.MethodDelete, target.FaultsPath+"/"+other.ID, nil, http.StatusNoContent, nil)
	// Method "*": every method of the object type.
	all := inject(t, s, target.FaultRule{Method: "*", Object: "ServiceInstance", Delay: target.Duration(delay), Times: 2})
	for i := range 2 {
		if d, err := timed(); err != nil || d < delay {
			t.Errorf("call %d under method *: %s, %v; want success after >= %s", i, d, err, delay)
		}
	}
	if h := hits(t, s, all.ID); h != 2 {
		t.Errorf("hits of the * rule = %d, want 2", h)
	}
}

// Invalidation is what a vCenter restart does to sessions: the next SOAP
// call is NotAuthenticated, the next vAPI call 401, a new login works.
func TestInvalidateSessions(t *testing.T) {
	s := startSim(t)
	ctx := context.Background()
	vc := login(t, ctx, s)
	other := login(t, ctx, s)
	rc := restLogin(t, ctx, vc)
	tm := tags.NewManager(rc)
	if _, err := tm.ListCategories(ctx); err != nil {
		t.Fatal(err)
	}

	var got target.SessionsInvalidated
	admin(t, s, http.MethodPost, target.SessionsPath, struct{}{}, http.StatusOK, &got)
	if got.SOAP < 2 || got.REST < 1 {
		t.Errorf("invalidated %+v, want >= 2 SOAP (two logins) and >= 1 REST", got)
	}
	for name, c := range map[string]*vim25.Client{"first": vc, "second": other} {
		if err := currentTime(ctx, c); vimFault(err) != "NotAuthenticated" {
			t.Errorf("%s session after invalidation: %v, want NotAuthenticated", name, err)
		}
	}
	if _, err := tm.ListCategories(ctx); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("vAPI call after invalidation: %v, want 401", err)
	}

	if err := session.NewManager(vc).Login(ctx, url.UserPassword(testUser, testPassword)); err != nil {
		t.Fatalf("SOAP login after invalidation: %v", err)
	}
	if err := currentTime(ctx, vc); err != nil {
		t.Errorf("call on the new session: %v", err)
	}
	if err := rc.Login(ctx, url.UserPassword(testUser, testPassword)); err != nil {
		t.Fatalf("vAPI login after invalidation: %v", err)
	}
	if _, err := tm.ListCategories(ctx); err != nil {
		t.Errorf("vAPI call on the new session: %v", err)
	}

	// Ended sessions are not ended twice.
	_ = rc.Logout(ctx)
	admin(t, s, http.MethodPost, target.SessionsPath, struct{}{}, http.StatusOK, &got)
	if got.SOAP != 1 || got.REST != 0 {
		t.Errorf("second invalidation %+v, want 1 SOAP (the new login), 0 REST (logged out)", got)
	}
}

func TestOutage(t *testing.T) {
	s := startSim(t)
	ctx := context.Background()
	vc := login(t, ctx, s)
	rc := restLogin(t, ctx, vc)
	tm := tags.NewManager(rc)
	before, err := tm.ListCategories(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := cns.NewClient(ctx, vc)
	if err != nil {
		t.Fatal(err)
	}

	for _, d := range []string{`{"duration":"0s"}`, `{"duration":"2h"}`, `{}`} {
		if code, body := call(t, s, s.Faults().Token(), http.MethodPost, target.OutagePath, d); code != http.StatusBadRequest {
			t.Errorf("outage %s: %d %s, want 400", d, code, body)
		}
	}
	const outage = 1500 * time.Millisecond
	admin(t, s, http.MethodPost, target.OutagePath, target.Outage{Duration: target.Duration(outage)}, http.StatusAccepted, nil)
	start := time.Now()

	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := currentTime(cctx, vc); err == nil || soap.IsSoapFault(err) {
		t.Errorf("SOAP call during the outage: %v, want a dropped connection", err)
	}
	if _, err := cc.QueryVolume(cctx, &cnstypes.CnsQueryFilter{}); err == nil || soap.IsSoapFault(err) {
		t.Errorf("CNS call during the outage: %v, want a dropped connection", err)
	}
	if _, err := tm.ListCategories(cctx); err == nil {
		t.Error("vAPI call during the outage succeeded")
	}
	sc := soap.NewClient(s.URL(), true)
	if _, err := vim25.NewClient(cctx, sc); err == nil {
		t.Error("a new connection during the outage was served")
	}
	if d := time.Since(start); d >= outage {
		t.Fatalf("the calls took %s, longer than the outage: nothing proved", d)
	}

	// Once it ends, the same sessions work: state is unchanged.
	time.Sleep(time.Until(start.Add(outage)))
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := currentTime(ctx, vc)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("SOAP call 5s after the outage: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	after, err := tm.ListCategories(ctx)
	if err != nil || !reflect.DeepEqual(after, before) {
		t.Errorf("vAPI after the outage: %v, %v; want %v", after, err, before)
	}
	if _, err := cc.QueryVolume(ctx, &cnstypes.CnsQueryFilter{}); err != nil {
		t.Errorf("CNS after the outage: %v", err)
	}
}

func TestCallCounts(t *testing.T) {
	s := startSim(t)
	ctx := context.Background()
	first := counts(t, s)
	for _, e := range []string{"vim25", "cns", "pbm", "vslm", "vapi"} {
		if first[e] == nil {
			t.Errorf("endpoint %s missing from %v", e, first)
		}
	}
	// Provisioning created the model's tags before vCenter was ready: not
	// a client's calls.
	if n := first["vapi"]["POST /rest/com/vmware/cis/tagging/tag"]; n != 0 {
		t.Errorf("provisioning's tag creates were counted: %d", n)
	}

	vc := login(t, ctx, s)
	for range 3 {
		if err := currentTime(ctx, vc); err != nil {
			t.Fatal(err)
		}
	}
	cc, err := cns.NewClient(ctx, vc)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := cc.QueryVolume(ctx, &cnstypes.CnsQueryFilter{}); err != nil {
			t.Fatal(err)
		}
	}
	rc := restLogin(t, ctx, vc)
	cats, err := tags.NewManager(rc).GetCategories(ctx)
	if err != nil || len(cats) == 0 {
		t.Fatalf("categories %v, %v", cats, err)
	}
	// A call that fails with an injected fault was still served.
	inject(t, s, target.FaultRule{Method: "CurrentTime", Fault: "SystemError", Times: 1})
	_ = currentTime(ctx, vc)

	got := counts(t, s)
	delta := func(endpoint, method string) int64 { return got[endpoint][method] - first[endpoint][method] }
	for _, c := range []struct {
		endpoint, method string
		want             int64
	}{
		{"vim25", "CurrentTime", 4},
		{"vim25", "Login", 1},
		{"cns", "CnsQueryVolume", 2},
		{"vapi", "POST /rest/com/vmware/cis/session", 1},
		{"vapi", "GET /rest/com/vmware/cis/tagging/category", 1},
		{"vapi", "GET /rest/com/vmware/cis/tagging/category/{id}", int64(len(cats))},
	} {
		if d := delta(c.endpoint, c.method); d != c.want {
			t.Errorf("%s %s: +%d, want +%d (counts %v)", c.endpoint, c.method, d, c.want, got[c.endpoint])
		}
	}
}

// volumeSpec is a 1 MiB block volume on ds, as the CSI driver creates one.
func volumeSpec(name string, ds types.ManagedObjectReference) cnstypes.CnsVolumeCreateSpec {
	return cnstypes.CnsVolumeCreateSpec{
		Name:       name,
		VolumeType: string(cnstypes.CnsVolumeTypeBlock),
		Datastores: []types.ManagedObjectReference{ds},
		Metadata: cnstypes.CnsVolumeMetadata{ContainerCluster: cnstypes.CnsContainerCluster{
			ClusterType: string(cnstypes.CnsClusterTypeKubernetes), ClusterId: "faults-test", VSphereUser: testUser,
		}},
		BackingObjectDetails: &cnstypes.CnsBlockBackingDetails{
			CnsBackingObjectDetails: cnstypes.CnsBackingObjectDetails{CapacityInMb: 1},
		},
	}
}

func datastore(t *testing.T, ctx context.Context, vc *vim25.Client, name string) types.ManagedObjectReference {
	t.Helper()
	finder := find.NewFinder(vc)
	dc, err := finder.DefaultDatacenter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	finder.SetDatacenter(dc)
	ds, err := finder.Datastore(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return ds.Reference()
}

// taskStates are the states a property collector reports for the task's
// info, as govmomi's task.Wait watches it, up to the final one.
func taskStates(t *testing.T, ctx context.Context, vc *vim25.Client, ref types.ManagedObjectReference) []types.TaskInfoState {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var states []types.TaskInfoState
	err := property.Wait(ctx, property.DefaultCollector(vc), ref, []string{"info"}, func(pc []types.PropertyChange) bool {
		for _, c := range pc {
			if info, ok := c.Val.(types.TaskInfo); ok {
				states = append(states, info.State)
				if info.State == types.TaskInfoStateSuccess || info.State == types.TaskInfoStateError {
					return true
				}
			}
		}
		return false
	})
	if err != nil {
		t.Fatalf("waiting on %s: %v (states so far %v)", ref, err, states)
	}
	return states
}

// checkFailedTask wants the task to have ended in error with the fault and
// message, and the collector never to have reported it a success.
func checkFailedTask(t *testing.T, ctx context.Context, vc *vim25.Client, task *object.Task, fault, msg string) {
	t.Helper()
	states := taskStates(t, ctx, vc, task.Reference())
	if slices.Contains(states, types.TaskInfoStateSuccess) || states[len(states)-1] != types.TaskInfoStateError {
		t.Errorf("task %s went through %v, want error and never success", task.Reference(), states)
	}
	var mt mo.Task
	if err := property.DefaultCollector(vc).RetrieveOne(ctx, task.Reference(), []string{"info"}, &mt); err != nil {
		t.Fatal(err)
	}
	info := mt.Info
	if info.Key != task.Reference().Value || info.Task != task.Reference() || info.CompleteTime == nil || info.Result != nil {
		t.Errorf("task info key %q task %s completed %v result %v", info.Key, info.Task, info.CompleteTime, info.Result)
	}
	if info.Error == nil {
		t.Fatalf("task %s in state %s has no error", task.Reference(), info.State)
	}
	if got := reflect.Indirect(reflect.ValueOf(info.Error.Fault)).Type().Name(); got != fault || info.Error.LocalizedMessage != msg {
		t.Errorf("task error %s %q, want %s %q", got, info.Error.LocalizedMessage, fault, msg)
	}
	// What a CSI driver reads: govmomi's wait gives the error with the message.
	if _, err := task.WaitForResult(ctx); err == nil || err.Error() != msg {
		t.Errorf("WaitForResult: %v, want %q", err, msg)
	}
}

// queryVolumes are the CNS volumes of that name.
func queryVolumes(t *testing.T, ctx context.Context, cc *cns.Client, name string) []cnstypes.CnsVolume {
	t.Helper()
	res, err := cc.QueryVolume(ctx, &cnstypes.CnsQueryFilter{Names: []string{name}})
	if err != nil {
		t.Fatal(err)
	}
	return res.Volumes
}

func deleteVolume(t *testing.T, ctx context.Context, cc *cns.Client, id cnstypes.CnsVolumeId) {
	t.Helper()
	task, err := cc.DeleteVolume(ctx, []cnstypes.CnsVolumeId{id}, true)
	if err == nil {
		_, err = task.WaitForResult(ctx)
	}
	if err != nil {
		t.Errorf("delete volume %s: %v", id.Id, err)
	}
}

// A CNS create that vCenter did but whose task it failed: the client's task
// ends in error with the message, never a success first, yet the volume
// and its FCD exist; the rule spent, the next create succeeds.
func TestAfterRunCNSCreate(t *testing.T) {
	s := startSim(t)
	ctx := context.Background()
	vc := login(t, ctx, s)
	cc, err := cns.NewClient(ctx, vc)
	if err != nil {
		t.Fatal(err)
	}
	ds := datastore(t, ctx, vc, "LocalDS_0")
	const msg = "vsconform: the CNS create task timed out after the volume was made"
	st := inject(t, s, target.FaultRule{Method: "CnsCreateVolume", Object: "CnsVolumeManager", Fault: "SystemError",
		Message: msg, Times: 1, AfterRun: true})

	name := fmt.Sprintf("faults-afterrun-%d", time.Now().UnixNano())
	task, err := cc.CreateVolume(ctx, []cnstypes.CnsVolumeCreateSpec{volumeSpec(name, ds)})
	if err != nil {
		t.Fatalf("create: %v, want a task", err)
	}
	checkFailedTask(t, ctx, vc, task, "SystemError", msg)
	vols := queryVolumes(t, ctx, cc, name)
	if len(vols) != 1 {
		t.Fatalf("CnsQueryVolume %s = %+v, want the volume the failed task made", name, vols)
	}
	defer deleteVolume(t, ctx, cc, vols[0].VolumeId)
	if _, err := methods.RetrieveVStorageObject(ctx, vc, &types.RetrieveVStorageObject{
		This: *vc.ServiceContent.VStorageObjectManager, Id: types.ID{Id: vols[0].VolumeId.Id}, Datastore: ds,
	}); err != nil {
		t.Errorf("the volume's FCD %s: %v", vols[0].VolumeId.Id, err)
	}
	if h := hits(t, s, st.ID); h != 1 {
		t.Errorf("hits = %d, want 1", h)
	}

	// Times=1 spent: the next create is answered as usual.
	task, err = cc.CreateVolume(ctx, []cnstypes.CnsVolumeCreateSpec{volumeSpec(name+"-next", ds)})
	if err != nil {
		t.Fatal(err)
	}
	info, err := cns.GetTaskInfo(ctx, task)
	if err != nil {
		t.Fatalf("the create after the rule: %v", err)
	}
	res, err := cns.GetTaskResult(ctx, info)
	if err != nil || res.GetCnsVolumeOperationResult().Fault != nil {
		t.Fatalf("the create after the rule: %+v, %v", res, err)
	}
	deleteVolume(t, ctx, cc, res.GetCnsVolumeOperationResult().VolumeId)
	if vols := queryVolumes(t, ctx, cc, name); len(vols) != 1 {
		t.Errorf("volumes named %s after the second create: %d, want 1 (no duplicate)", name, len(vols))
	}
	if h := hits(t, s, st.ID); h != 1 {
		t.Errorf("hits after the second create = %d, want 1", h)
	}
}

// A method without a task: it runs, and its answer is the fault.
func TestAfterRunWithoutTask(t *testing.T) {
	s := startSim(t)
	ctx := context.Background()
	vc := login(t, ctx, s)
	root := object.NewFolder(vc, vc.ServiceContent.RootFolder)
	const msg = "vsconform: the folder was made, its answer lost"
	st := inject(t, s, target.FaultRule{Method: "CreateFolder", Object: "Folder", Fault: "SystemError",
		Message: msg, Times: 1, AfterRun: true})

	name := fmt.Sprintf("faults-afterrun-%d", time.Now().UnixNano())
	_, err := root.CreateFolder(ctx, name)
	if vimFault(err) != "SystemError" || !strings.Contains(err.Error(), msg) {
		t.Errorf("CreateFolder: %v, want a SystemError with %q", err, msg)
	}
	ref, err := object.NewSearchIndex(vc).FindChild(ctx, root, name)
	if err != nil || ref == nil {
		t.Fatalf("the folder %s the failed call made: %v, %v", name, ref, err)
	}
	destroy(t, ctx, object.NewFolder(vc, ref.Reference()))

	f, err := root.CreateFolder(ctx, name+"-next")
	if err != nil {
		t.Fatalf("CreateFolder after the rule: %v", err)
	}
	destroy(t, ctx, f)
	if h := hits(t, s, st.ID); h != 1 {
		t.Errorf("hits = %d, want 1", h)
	}
}

func destroy(t *testing.T, ctx context.Context, f *object.Folder) {
	t.Helper()
	task, err := f.Destroy(ctx)
	if err == nil {
		err = task.Wait(ctx)
	}
	if err != nil {
		t.Errorf("destroy %s: %v", f.Reference(), err)
	}
}

// stockSim is govmomi's vcsim with its own CNS, PBM and VSLM simulators
// and a fault endpoint, without the project's vCenter (sim/vcenter, vcext).
type stockSim struct {
	fs  *faults.Server
	srv *simulator.Server
}

func (s stockSim) Faults() *faults.Server { return s.fs }

func startStock(t *testing.T, ctx context.Context) stockSim {
	t.Helper()
	m := simulator.VPX()
	if err := m.Create(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Remove)
	m.Service.RegisterSDK(cnssim.New())
	m.Service.RegisterSDK(pbmsim.New())
	m.Service.RegisterSDK(vslmsim.New())
	fs, err := faults.New(faults.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.Attach(ctx, m); err != nil {
		t.Fatal(err)
	}
	srv := m.Service.NewServer()
	t.Cleanup(srv.Close)
	fs.Front(srv)
	if err := fs.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fs.Close() })
	return stockSim{fs: fs, srv: srv}
}

// The same on stock vcsim: a vim25 *_Task (the VM is off, its task in
// error) and govmomi's own CNS simulator.
func TestAfterRunStockSimulator(t *testing.T) {
	ctx := context.Background()
	s := startStock(t, ctx)
	c, err := govmomi.NewClient(ctx, s.srv.URL, true) // loopback, the simulator's own certificate
	if err != nil {
		t.Fatal(err)
	}
	vc := c.Client
	vm, err := find.NewFinder(vc).VirtualMachine(ctx, "/DC0/vm/DC0_H0_VM0")
	if err != nil {
		t.Fatal(err)
	}

	const offMsg = "vsconform: the power-off task lost its result"
	off := inject(t, s, target.FaultRule{Method: "PowerOffVM_Task", Object: "VirtualMachine", Fault: "InvalidState",
		Message: offMsg, Times: 1, AfterRun: true})
	task, err := vm.PowerOff(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkFailedTask(t, ctx, vc, task, "InvalidState", offMsg)
	if ps, err := vm.PowerState(ctx); err != nil || ps != types.VirtualMachinePowerStatePoweredOff {
		t.Errorf("power state after the failed task: %s, %v; want poweredOff", ps, err)
	}
	if h := hits(t, s, off.ID); h != 1 {
		t.Errorf("hits = %d, want 1", h)
	}

	cc, err := cns.NewClient(ctx, vc)
	if err != nil {
		t.Fatal(err)
	}
	ds := datastore(t, ctx, vc, "LocalDS_0")
	const createMsg = "vsconform: CNS lost the create's result"
	inject(t, s, target.FaultRule{Method: "CnsCreateVolume", Fault: "SystemError", Message: createMsg, AfterRun: true})
	name := fmt.Sprintf("faults-stock-%d", time.Now().UnixNano())
	task, err = cc.CreateVolume(ctx, []cnstypes.CnsVolumeCreateSpec{volumeSpec(name, ds)})
	if err != nil {
		t.Fatal(err)
	}
	checkFailedTask(t, ctx, vc, task, "SystemError", createMsg)
	if vols := queryVolumes(t, ctx, cc, name); len(vols) != 1 {
		t.Errorf("CnsQueryVolume %s = %+v, want the volume the failed task made", name, vols)
	}
}

// A taskDelay rule: the CNS create's task reports running that much longer
// than its work, then succeeds with the work's result.
func TestTaskDelayCNSCreate(t *testing.T) {
	s := startSim(t)
	ctx := context.Background()
	vc := login(t, ctx, s)
	cc, err := cns.NewClient(ctx, vc)
	if err != nil {
		t.Fatal(err)
	}
	ds := datastore(t, ctx, vc, "LocalDS_0")
	const delay = 1500 * time.Millisecond
	st := inject(t, s, target.FaultRule{Method: "CnsCreateVolume", Object: "CnsVolumeManager", Times: 1,
		TaskDelay: target.Duration(delay)})

	name := fmt.Sprintf("faults-taskdelay-%d", time.Now().UnixNano())
	start := time.Now()
	task, err := cc.CreateVolume(ctx, []cnstypes.CnsVolumeCreateSpec{volumeSpec(name, ds)})
	if err != nil {
		t.Fatalf("create: %v, want a task", err)
	}
	if answered := time.Since(start); answered > delay/2 {
		t.Errorf("the call took %s: the delay is the task's, not the call's", answered)
	}
	// The work is done before the task says so: the volume is there.
	if vols := queryVolumes(t, ctx, cc, name); len(vols) != 1 {
		t.Errorf("CnsQueryVolume %s while its task runs = %d volumes, want 1", name, len(vols))
	}
	info, err := cns.GetTaskInfo(ctx, task)
	if err != nil {
		t.Fatalf("the slow task: %v", err)
	}
	if took := time.Since(start); took < delay {
		t.Errorf("the task ended after %s, want at least %s", took, delay)
	}
	res, err := cns.GetTaskResult(ctx, info)
	if err != nil || res.GetCnsVolumeOperationResult().Fault != nil {
		t.Fatalf("the slow task's result: %+v, %v", res, err)
	}
	deleteVolume(t, ctx, cc, res.GetCnsVolumeOperationResult().VolumeId)
	if h := hits(t, s, st.ID); h != 1 {
		t.Errorf("hits = %d, want 1", h)
	}
}
