package target

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/simulator"
	_ "github.com/vmware/govmomi/vapi/simulator" // the /rest tagging endpoint
)

// fakeAPIServer answers /version like kube-apiserver, or 401 when deny.
func fakeAPIServer(t *testing.T, deny bool) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if deny {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}`)
			return
		}
		fmt.Fprint(w, `{"major":"1","minor":"34","gitVersion":"v1.34.2"}`)
	}))
	t.Cleanup(s.Close)
	return s
}

func kubeconfigFor(t *testing.T, dir, server string) string {
	return writeFile(t, dir, "kubeconfig-"+randomSuffix(4), fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: %q}}]
users: [{name: u, user: {token: abc}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`, server))
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

func TestConnect(t *testing.T) {
	model := simulator.VPX()
	if err := model.Create(); err != nil {
		t.Fatal(err)
	}
	defer model.Remove()
	model.Service.TLS = new(tls.Config)
	model.Service.RegisterEndpoints = true
	// Without explicit credentials vcsim accepts any login.
	model.Service.Listen = &url.URL{User: url.UserPassword("administrator@vsphere.local", "Corr3ct-Horse")}
	server := model.Service.NewServer()
	defer server.Close()
	caFile, err := server.CertificateFile()
	if err != nil {
		t.Fatal(err)
	}
	user := server.URL.User.Username()
	pass, _ := server.URL.User.Password()
	vcURL := "https://" + server.URL.Host + "/sdk"

	dir := t.TempDir()
	goodKube := kubeconfigFor(t, dir, fakeAPIServer(t, false).URL)

	base := func() *Config {
		return &Config{
			APIVersion: APIVersion, Kind: Kind, Name: "vcsim",
			Kubeconfig: goodKube,
			VCenter:    VCenter{URL: vcURL, CAFile: caFile, Username: user, Password: Secret(pass), Datacenter: "DC0"},
			CSI:        CSI{Namespace: DefaultCSINamespace},
		}
	}

	cases := []struct {
		name   string
		mutate func(c *Config)
		class  error  // nil: success
		want   string // the whole message, or a prefix ending in "..."
	}{
		{"trusted CA", func(c *Config) {}, nil, ""},
		{"insecure", func(c *Config) { c.VCenter.CAFile, c.VCenter.Insecure = "", true }, nil, ""},
		{"default datacenter", func(c *Config) { c.VCenter.Datacenter = "" }, nil, ""},
		{"bad kubeconfig", func(c *Config) {
			c.Kubeconfig = writeFile(t, dir, "empty-kubeconfig", "apiVersion: v1\nkind: Config\n")
		},
			ErrKubeconfig, "target config: kubeconfig: " + dir + "/empty-kubeconfig: no current-context ..."},
		{"kube unreachable", func(c *Config) { c.Kubeconfig = kubeconfigFor(t, dir, "http://"+closedAddr(t)) },
			ErrKubeUnreachable, "kubernetes: API server http://127.0.0.1:..."},
		{"kube rejects credentials", func(c *Config) { c.Kubeconfig = kubeconfigFor(t, dir, fakeAPIServer(t, true).URL) },
			ErrKubeAuth, "kubernetes: API server http://127.0.0.1:..."},
		{"vcenter unreachable", func(c *Config) { c.VCenter.URL = "https://" + closedAddr(t) + "/sdk" },
			ErrVCenterUnreachable, "vcenter: https://127.0.0.1:..."},
		{"untrusted certificate", func(c *Config) { c.VCenter.CAFile = "" },
			ErrTLSUntrusted, "vcenter: " + vcURL + ": TLS: certificate not trusted; set vcenter.caFile or vcenter.insecure (..."},
		{"wrong password", func(c *Config) { c.VCenter.Password = "wrong-Pa55word" },
			ErrLogin, "vcenter: login as " + user + " failed: incorrect user name or password"},
		{"datacenter not found", func(c *Config) { c.VCenter.Datacenter = "DC9" },
			ErrDatacenterNotFound, `vcenter: datacenter "DC9" not found`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := base()
			c.mutate(cfg)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			tg, err := Connect(ctx, cfg)
			if c.class == nil {
				if err != nil {
					t.Fatal(err)
				}
				defer func() {
					if err := tg.Close(); err != nil {
						t.Errorf("Close: %v", err)
					}
				}()
				checkConnected(t, ctx, tg)
				return
			}
			if err == nil {
				tg.Close()
				t.Fatalf("connected; want %v", c.class)
			}
			msg := err.Error()
			t.Log(msg)
			if !errors.Is(err, c.class) {
				t.Errorf("error %q is not %v", msg, c.class)
			}
			if prefix, ok := strings.CutSuffix(c.want, "..."); ok {
				if !strings.HasPrefix(msg, prefix) {
					t.Errorf("error\n got %s\nwant %s...", msg, prefix)
				}
			} else if msg != c.want {
				t.Errorf("error\n got %s\nwant %s", msg, c.want)
			}
			if strings.Contains(msg, "\n") || strings.Contains(msg, pass) || strings.Contains(msg, "wrong-Pa55word") {
				t.Errorf("error spans lines or holds the password: %q", msg)
			}
		})
	}
}

// checkConnected uses each client once.
func checkConnected(t *testing.T, ctx context.Context, tg *Target) {
	t.Helper()
	if tg.Datacenter.Name() != "DC0" {
		t.Errorf("datacenter %q", tg.Datacenter.Name())
	}
	if _, err := tg.ListCNSVolumes(ctx); err != nil {
		t.Errorf("CNS: %v", err)
	}
	if _, err := tg.PolicyID(ctx, "vSAN Default Storage Policy"); err != nil {
		t.Errorf("PBM: %v", err)
	}
	if _, err := tg.ListFCDs(ctx); err != nil {
		t.Errorf("VSLM: %v", err)
	}
	if _, err := tg.Tags.GetCategories(ctx); err != nil {
		t.Errorf("tags: %v", err)
	}
	if _, err := tg.Kube.Discovery().ServerVersion(); err != nil {
		t.Errorf("kube: %v", err)
	}
	if tg.Dynamic == nil || tg.REST == nil || tg.Finder == nil {
		t.Error("a client is missing")
	}
}

func TestConnectRejectsInvalidConfig(t *testing.T) {
	_, err := Connect(context.Background(), &Config{APIVersion: APIVersion, Kind: Kind, Name: "x"})
	if err == nil || !strings.HasPrefix(err.Error(), "target config: kubeconfig: not set") {
		t.Fatalf("got %v", err)
	}
}

func TestCurrentPanicsWithoutUse(t *testing.T) {
	Use(nil)
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(fmt.Sprint(r), "call target.Use(t)") {
			t.Errorf("recover() = %v", r)
		}
	}()
	Current()
}
