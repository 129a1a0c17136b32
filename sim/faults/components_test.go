package faults

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// fakeComponents records the actions it is asked for.
type fakeComponents struct{ did []string }

func (f *fakeComponents) List() []target.ComponentStatus {
	return []target.ComponentStatus{{Name: target.ComponentCSIController, Running: true, PID: 7}}
}

func (f *fakeComponents) Do(_ context.Context, name, action string) (target.ComponentStatus, error) {
	switch name {
	case "nope":
		return target.ComponentStatus{}, ErrUnknownComponent
	case target.ComponentSyncer:
		return target.ComponentStatus{}, errors.New("syncer did not serve")
	}
	f.did = append(f.did, name+" "+action)
	return target.ComponentStatus{Name: name, Running: action != target.ActionStop}, nil
}

func TestComponentEndpoint(t *testing.T) {
	fake := &fakeComponents{}
	s, err := New(Options{Token: "tok", Components: fake})
	if err != nil {
		t.Fatal(err)
	}
	bare, err := New(Options{Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, method, path, body, token string
		server                          *Server
		want                            int
		wantBody                        string
	}{
		{"list", "GET", target.ComponentsPath, "", "tok", s, 200, `"pid":7`},
		{"restart", "POST", target.ComponentsPath + "/csi-controller", `{"action":"restart"}`, "tok", s, 200, `"running":true`},
		{"stop", "POST", target.ComponentsPath + "/csi-attacher", `{"action":"stop"}`, "tok", s, 200, `"running":false`},
		{"no token", "POST", target.ComponentsPath + "/csi-controller", `{"action":"restart"}`, "", s, 401, ""},
		{"bad action", "POST", target.ComponentsPath + "/csi-controller", `{"action":"reboot"}`, "tok", s, 400, "not stop, start or restart"},
		{"unknown field", "POST", target.ComponentsPath + "/csi-controller", `{"action":"stop","now":true}`, "tok", s, 400, ""},
		{"unknown component", "POST", target.ComponentsPath + "/nope", `{"action":"stop"}`, "tok", s, 404, "no such component"},
		{"failed action", "POST", target.ComponentsPath + "/csi-syncer", `{"action":"start"}`, "tok", s, 500, "did not serve"},
		{"no component control", "POST", target.ComponentsPath + "/csi-controller", `{"action":"stop"}`, "tok", bare, 501, "no component control"},
		{"empty list without control", "GET", target.ComponentsPath, "", "tok", bare, 200, "[]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			rec := httptest.NewRecorder()
			tc.server.api().ServeHTTP(rec, req)
			if rec.Code != tc.want || !strings.Contains(rec.Body.String(), tc.wantBody) {
				t.Errorf("%s %s = %d %q, want %d containing %q", tc.method, tc.path, rec.Code, rec.Body.String(), tc.want, tc.wantBody)
			}
		})
	}
	if want := []string{"csi-controller restart", "csi-attacher stop"}; strings.Join(fake.did, ",") != strings.Join(want, ",") {
		t.Errorf("actions done %v, want %v", fake.did, want)
	}
}
