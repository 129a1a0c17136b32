package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// asCLI makes the test binary run main(), so that the bad-input cases run
// the real command line in a process of its own (real exit code, real
// stderr, the top-level recover) without building vsconform again.
const asCLI = "VSCONFORM_TEST_AS_CLI"

func TestMain(m *testing.M) {
	if os.Getenv(asCLI) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// secret is the vCenter password every case seeds somewhere (password
// file, inline password, URL, GOVC_PASSWORD); it must never be printed.
const secret = "s3cret-PA55"

type badInput struct {
	name    string
	args    []string
	env     []string // on top of a clean environment
	want    string   // what is wrong, a substring of the one stderr line
	notWant string   // and what the line must not blame
}

// TestBadInput: every bad input is rejected before anything starts, with
// one line "vsconform: <what>: <why>" on stderr and exit code 2: no stack
// trace, no terminal escapes, no password. Nothing here brings up the
// hermetic target: the bin dir is empty, and a case that got as far as the
// bring-up would print "starting the hermetic target" and fail.
func TestBadInput(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the CLI about a hundred times")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	file := func(name, content string) string {
		t.Helper()
		p := filepath.Join(work, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, d := range []string{"home", "nobin", "adir"} {
		if err := os.Mkdir(filepath.Join(work, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	aDir := filepath.Join(work, "adir")
	aFile := file("afile", "a regular file\n")

	// Credentials.
	pw := file("pw", secret+"\n")
	pwEmpty := file("pw-empty", "\n")

	// Kubeconfigs: one for a fake API server that answers, the broken ones.
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"major":"1","minor":"34","gitVersion":"v1.34.2"}`)
	}))
	t.Cleanup(api.Close) // not defer: the parallel cases run after this function returns
	kubeconfig := func(name, server, extra string) string {
		return file(name, fmt.Sprintf("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: %q%s}}]\n"+
			"contexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\nusers: [{name: u, user: {token: x}}]\n", server, extra))
	}
	kubeGood := kubeconfig("kube-good", api.URL, "")
	kubeClosed := kubeconfig("kube-closed", "http://"+closedLoopbackAddr(t), "")
	kubeBad := file("kube-bad", "not: [a kubeconfig")
	kubeNoCtx := file("kube-noctx", "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"+
		"contexts: [{name: c, context: {cluster: c, user: u}}]\nusers: [{name: u, user: {token: x}}]\n")
	kubeCtxMissing := file("kube-ctx-missing", "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"+
		"contexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: nope\nusers: [{name: u, user: {token: x}}]\n")
	kubeNoServer := kubeconfig("kube-noserver", "", "")
	kubeBadCA := kubeconfig("kube-badca", "https://127.0.0.1:1", ", certificate-authority: "+filepath.Join(work, "no-kube-ca.pem"))

	// TLS: a CA of our own, a vCenter with a self-signed certificate, and
	// one whose certificate our CA signed but which expired yesterday.
	ca, caKey, caPEM := newTestCA(t)
	caFile := file("ca.pem", string(caPEM))
	selfSigned := tlsServer(t, nil)
	expired := tlsServer(t, leafCert(t, ca, caKey, time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour)))

	config := func(name, body string) string {
		return file(name, "apiVersion: vsconform.io/v1alpha1\nkind: Target\nname: lab\n"+body)
	}
	vc := func(url, extra string) string {
		return fmt.Sprintf("vcenter: {url: %q, username: admin, passwordFile: %s%s}\n", url, pw, extra)
	}
	okVC := vc("https://127.0.0.1:1/sdk", "")
	withKube := func(kube string) string { return "kubeconfig: " + kube + "\n" }
	existing := func(cfg string) []string { return []string{"run", "--target", "existing", "--config", cfg} }

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() })
	busyPort := strconv.Itoa(busy.Addr().(*net.TCPAddr).Port)

	badModel := file("model-bad.yaml", "vcenter: [unclosed\n")
	invalidModel := file("model-invalid.yaml", "vcenter: {version: abc}\n")
	sonobuoyResults := filepath.Join(work, "sonobuoy-results")
	sonobuoyConfig := filepath.Join(work, "sonobuoy-config")
	if err := os.MkdirAll(sonobuoyConfig, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sonobuoyConfig, "target.yaml"), []byte("apiVersion: vsconform.io/v1alpha1\nkind: Target\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	govc := []string{"GOVC_URL=https://127.0.0.1:1/sdk", "GOVC_USERNAME=admin", "GOVC_PASSWORD=" + secret}

	cases := []badInput{
		// run: flags.
		{name: "focus not a regexp", args: []string{"run", "--focus", "(("}, want: `--focus "((": not a regular expression: missing closing )`},
		{name: "second focus not a regexp", args: []string{"run", "--focus", "csi", "--focus", "a("}, want: `--focus "a(": not a regular expression`},
		{name: "skip not a regexp", args: []string{"run", "--skip", "[z-a]"}, want: `--skip "[z-a]": not a regular expression`},
		{name: "focus in a dry run", args: []string{"run", "--dry-run", "--focus", "(("}, want: `--focus "((": not a regular expression`},
		{name: "negative timeout", args: []string{"run", "--timeout", "-5s"}, want: "--timeout -5s: want a duration > 0"},
		{name: "zero timeout", args: []string{"run", "--timeout", "0"}, want: "--timeout 0s: want a duration > 0"},
		{name: "timeout not a duration", args: []string{"run", "--timeout", "abc"}, want: `invalid argument "abc" for "--timeout" flag`},
		{name: "zero procs", args: []string{"run", "--procs", "0"}, want: "--procs 0: want 1 to 64"},
		{name: "too many procs", args: []string{"run", "--procs", "100000"}, want: "--procs 100000: want 1 to 64"},
		{name: "unknown leak check", args: []string{"run", "--leak-check", "never"}, want: "--leak-check \"never\": want spec or run"},
		{name: "procs not a number", args: []string{"run", "--procs", "two"}, want: `invalid argument "two" for "--procs" flag`},
		{name: "label filter syntax", args: []string{"run", "--label-filter", "csi &&"}, want: `invalid label filter "csi &&": Unexpected EOF`},
		{name: "label filter parenthesis", args: []string{"run", "--label-filter", "(csi"}, want: "Mismatched '(' - could not find matching ')'. (at character 1)"},
		{name: "label filter regexp", args: []string{"run", "--label-filter", "/((/"}, want: "RegExp compilation error"},
		{name: "unknown label", args: []string{"run", "--label-filter", "csi && !scael"}, want: `unknown label "scael"`},
		{name: "unknown target kind", args: []string{"run", "--target", "cloud"}, want: `--target "cloud": want hermetic or existing`},
		{name: "config for the hermetic target", args: []string{"run", "--config", aFile}, want: "--config is for --target existing"},
		{name: "results dir below a file", args: []string{"run", "--results-dir", filepath.Join(aFile, "x")}, want: "--results-dir " + filepath.Join(aFile, "x") + ": cannot create it: mkdir " + aFile + ": not a directory"},
		{name: "results dir is a file", args: []string{"run", "--results-dir", aFile}, want: "--results-dir " + aFile + ": not a directory"},
		{name: "results dir of an existing target", args: append(existing(config("cfg-results.yaml", withKube(kubeGood)+okVC)), "--results-dir", "/etc/hostname/x"), want: "--results-dir /etc/hostname/x: cannot create it"},
		{name: "model missing", args: []string{"run", "--model", filepath.Join(work, "nope.yaml")}, want: "--model " + filepath.Join(work, "nope.yaml") + ": no such file"},
		{name: "model malformed", args: []string{"run", "--model", badModel}, want: "--model " + badModel + ": parse: yaml: line 1"},
		{name: "model invalid", args: []string{"run", "--model", invalidModel}, want: `vcenter.version: "abc" is not a version`},
		{name: "model is a directory", args: []string{"run", "--model", aDir}, want: "--model " + aDir + ": is a directory"},
		{name: "model for an existing target", args: append(existing(aFile), "--model", badModel), want: "--model and --with are for --target hermetic"},
		{name: "with not NAME=PATH", args: []string{"run", "--with", "vsphere-csi"}, want: "want NAME=PATH"},
		{name: "with an unknown binary", args: []string{"run", "--with", "etcd=" + aFile}, want: "--with etcd: not a replaceable binary"},
		{name: "run id with a slash", args: []string{"run", "--run-id", "../x"}, want: `--run-id "../x": want at most 63 letters`},
		{name: "tarball in no directory", args: append(existing(config("cfg-tarball.yaml", withKube(kubeGood)+okVC)), "--sonobuoy-tarball", filepath.Join(aFile, "r.tar.gz")), want: "--sonobuoy-tarball " + filepath.Join(aFile, "r.tar.gz") + ": " + aFile + " is not a directory"},
		{name: "dry run with procs", args: []string{"run", "--dry-run", "--procs", "2"}, want: "--dry-run runs nothing"},
		{name: "unknown flag", args: []string{"run", "--nope"}, want: "unknown flag: --nope"},
		{name: "argument to run", args: []string{"run", "extra"}, want: `unknown command "extra" for "vsconform run"`},

		// Target config files.
		{name: "config missing", args: existing(filepath.Join(work, "none.yaml")), want: "target config: " + filepath.Join(work, "none.yaml") + ": no such file"},
		{name: "config is a directory", args: existing(aDir), want: aDir + ": is a directory"},
		{name: "config YAML syntax", args: existing(config("c-syntax.yaml", "vcenter: [unclosed\n")), want: "did not find expected ',' or ']'"},
		{name: "config unknown field", args: existing(config("c-unknown.yaml", "vcenter: {urll: x}\n")), want: `line 4: unknown field "vcenter.urll"`},
		{name: "config wrong type", args: existing(config("c-type.yaml", "capabilities: {blockVolumes: maybe}\n")), want: "capabilities.blockVolumes: line 4: cannot unmarshal"},
		{name: "config wrong apiVersion", args: existing(file("c-apiversion.yaml", "apiVersion: v1\nkind: Target\n"+withKube(kubeGood)+okVC)), want: `apiVersion: must be vsconform.io/v1alpha1 (got "v1")`},
		{name: "config wrong kind", args: existing(file("c-kind.yaml", "apiVersion: vsconform.io/v1alpha1\nkind: Cluster\n"+withKube(kubeGood)+okVC)), want: `kind: must be Target (got "Cluster")`},
		{name: "config empty", args: existing(file("c-empty.yaml", "")), want: "c-empty.yaml: file is empty"},
		{name: "config not a mapping", args: existing(file("c-list.yaml", "- a\n- b\n")), want: "line 1: expected a mapping of fields"},
		{name: "no config, no environment", args: []string{"run", "--target", "existing"}, want: "kubeconfig: " + filepath.Join(work, "home", ".kube", "config") + ": no such file"},

		// Credentials.
		{name: "password file missing", args: existing(config("c-pw-missing.yaml", withKube(kubeGood)+"vcenter: {url: 'https://127.0.0.1:1/sdk', username: admin, passwordFile: "+filepath.Join(work, "nopw")+"}\n")), want: "vcenter.passwordFile: " + filepath.Join(work, "nopw") + ": no such file"},
		{name: "password file unreadable", args: existing(config("c-pw-dir.yaml", withKube(kubeGood)+"vcenter: {url: 'https://127.0.0.1:1/sdk', username: admin, passwordFile: "+aDir+"}\n")), want: "vcenter.passwordFile: " + aDir + ": is a directory"},
		{name: "password file empty", args: existing(config("c-pw-empty.yaml", withKube(kubeGood)+"vcenter: {url: 'https://127.0.0.1:1/sdk', username: admin, passwordFile: "+pwEmpty+"}\n")), want: "vcenter.passwordFile: " + pwEmpty + ": file is empty"},
		{name: "password empty", args: existing(config("c-pw-none.yaml", withKube(kubeGood)+"vcenter: {url: 'https://127.0.0.1:1/sdk', username: admin, password: ''}\n")), want: "vcenter.password: not set"},
		{name: "both password forms", args: existing(config("c-pw-both.yaml", withKube(kubeGood)+vc("https://127.0.0.1:1/sdk", ", password: "+secret))), want: "set either vcenter.passwordFile or vcenter.password, not both"},
		{name: "no username", args: existing(config("c-nouser.yaml", withKube(kubeGood)+"vcenter: {url: 'https://127.0.0.1:1/sdk', passwordFile: "+pw+"}\n")), want: "vcenter.username: not set"},
		{name: "URL malformed, with credentials", args: existing(config("c-url-bad.yaml", withKube(kubeGood)+"vcenter: {url: 'https://admin:"+secret+"@vc .example/sdk'}\n")), want: `vcenter.url: "https://[redacted]@vc .example/sdk" is not a URL`},
		{name: "URL not https", args: existing(config("c-url-http.yaml", withKube(kubeGood)+vc("http://vc.example.com/sdk", ""))), want: `"http://vc.example.com/sdk" is not an https URL`},
		{name: "URL port out of range", args: existing(config("c-url-port.yaml", withKube(kubeGood)+vc("https://vc.example.com:99999/sdk", ""))), want: "port 99999 is not 1-65535"},
		{name: "GOVC_URL malformed, with credentials", args: []string{"run", "--target", "existing"}, env: []string{"KUBECONFIG=" + kubeGood, "GOVC_URL=https://admin:" + secret + "@vc .example"}, want: `GOVC_URL: "https://[redacted]@vc .example" is not a URL`},
		{name: "GOVC_INSECURE not a boolean", args: []string{"run", "--target", "existing"}, env: append([]string{"KUBECONFIG=" + kubeGood, "GOVC_INSECURE=maybe"}, govc...), want: `GOVC_INSECURE: "maybe" is not a boolean`},
		{name: "non-loopback URL is fine, the missing kubeconfig is not", args: existing(config("c-remote.yaml", withKube(filepath.Join(work, "no-kube"))+vc("https://vc.example.com/sdk", ""))), want: "kubeconfig: " + filepath.Join(work, "no-kube") + ": no such file", notWant: "vcenter"},

		// Kubeconfigs.
		{name: "kubeconfig malformed wins over the missing username", args: existing(config("c-kube-bad.yaml", withKube(kubeBad)+"vcenter: {url: 'https://127.0.0.1:1/sdk', passwordFile: "+pw+"}\n")), want: "vsconform: target config: kubeconfig: " + kubeBad + ": not a kubeconfig: yaml: line 1"},
		{name: "KUBECONFIG malformed", args: []string{"run", "--target", "existing"}, env: append([]string{"KUBECONFIG=" + kubeBad}, govc...), want: "vsconform: target config: kubeconfig: " + kubeBad + ": not a kubeconfig"},
		{name: "kubeconfig without current context", args: existing(config("c-kube-noctx.yaml", withKube(kubeNoCtx)+okVC)), want: kubeNoCtx + ": no current-context"},
		{name: "kubeconfig current context missing", args: existing(config("c-kube-ctx.yaml", withKube(kubeCtxMissing)+okVC)), want: `current-context "nope" is not among its contexts`},
		{name: "kubeconfig cluster without server", args: existing(config("c-kube-noserver.yaml", withKube(kubeNoServer)+okVC)), want: `cluster "c" has no server`},
		{name: "kubeconfig CA file missing", args: existing(config("c-kube-ca.yaml", withKube(kubeBadCA)+okVC)), want: "no-kube-ca.pem"},
		{name: "kubeconfig is a directory", args: existing(config("c-kube-dir.yaml", withKube(aDir)+okVC)), want: "kubeconfig: " + aDir + ": is a directory"},

		// vCenter CA and TLS.
		{name: "CA file missing", args: existing(config("c-ca-missing.yaml", withKube(kubeGood)+vc("https://127.0.0.1:1/sdk", ", caFile: "+filepath.Join(work, "no-ca.pem")))), want: "vcenter.caFile: " + filepath.Join(work, "no-ca.pem") + ": no such file"},
		{name: "CA file not PEM", args: existing(config("c-ca-notpem.yaml", withKube(kubeGood)+vc("https://127.0.0.1:1/sdk", ", caFile: "+aFile))), want: "vcenter.caFile: " + aFile + ": no PEM certificate in file"},
		{name: "Kubernetes API unreachable", args: existing(config("c-kube-closed.yaml", withKube(kubeClosed)+okVC)), want: "kubernetes: API server http://127.0.0.1:"},
		{name: "self-signed vCenter without insecure or caFile", args: existing(config("c-tls-self.yaml", withKube(kubeGood)+vc(selfSigned+"/sdk", ""))), want: "TLS: certificate not trusted; set vcenter.caFile or vcenter.insecure"},
		{name: "vCenter signed by another CA", args: existing(config("c-tls-wrongca.yaml", withKube(kubeGood)+vc(selfSigned+"/sdk", ", caFile: "+caFile))), want: "TLS: certificate not trusted"},
		{name: "vCenter certificate expired", args: existing(config("c-tls-expired.yaml", withKube(kubeGood)+vc(expired+"/sdk", ", caFile: "+caFile))), want: "TLS: certificate rejected: x509: certificate has expired"},

		// preflight, audit, cleanup.
		{name: "preflight unknown target kind", args: []string{"preflight", "--target", "cloud"}, want: `--target "cloud"`},
		{name: "preflight without a running hermetic target", args: []string{"preflight"}, want: "no hermetic target is running in " + filepath.Join(work, "nostate")},
		{name: "preflight kubeconfig malformed", args: []string{"preflight", "--target", "existing", "--config", config("c-pf.yaml", withKube(kubeBad)+okVC)}, want: "kubeconfig: " + kubeBad + ": not a kubeconfig"},
		{name: "audit existing without config", args: []string{"audit", "--target", "existing"}, want: "--target existing needs --config or the GOVC_* environment"},
		{name: "cleanup without run", args: []string{"cleanup"}, want: "give exactly one of --run-id ID and --all-stale"},

		// report, report diff.
		{name: "report without a folder", args: []string{"report"}, want: "accepts 1 arg(s), received 0"},
		{name: "report of a missing folder", args: []string{"report", filepath.Join(work, "norun")}, want: "report.json"},
		{name: "report threshold without baseline", args: []string{"report", aDir, "--threshold", "0.5"}, want: "--threshold needs --baseline"},
		{name: "report diff one run", args: []string{"report", "diff", aDir}, want: "accepts 2 arg(s), received 1"},
		{name: "report diff zero threshold", args: []string{"report", "diff", aDir, aDir, "--threshold", "0"}, want: "--threshold must be a number > 0"},
		{name: "report diff not JSON", args: []string{"report", "diff", aFile, aFile}, want: "invalid JSON"},

		// sim.
		{name: "sim unknown subcommand", args: []string{"sim", "bogus"}, want: `unknown command "bogus" for "vsconform sim"`},
		{name: "sim up unknown defect", args: []string{"sim", "up", "--defect", "no-such-bug"}, want: `--defect: no defect profile "no-such-bug"; profiles: `},
		{name: "selftest unknown profile", args: []string{"selftest", "--profile", "no-such-bug"}, want: `--profile: no defect profile "no-such-bug"`},
		{name: "selftest quick and profile", args: []string{"selftest", "--quick", "--profile", "delete-leaves-fcd"}, want: "--quick and --profile both choose the profiles"},
		{name: "selftest profile twice", args: []string{"selftest", "--profile", "delete-leaves-fcd", "--profile", "delete-leaves-fcd"}, want: "--profile delete-leaves-fcd given twice"},
		{name: "sim up CPI config form", args: []string{"sim", "up", "--cpi-config-form", "toml"}, want: `--cpi-config-form "toml": want yaml or ini`},
		{name: "sim up busy vCenter port", args: []string{"sim", "up", "--vcenter-port", busyPort}, want: "--vcenter-port " + busyPort + ": 127.0.0.1:" + busyPort + " is already in use"},
		{name: "sim up busy API server port", args: []string{"sim", "up", "--apiserver-port", busyPort}, want: "--apiserver-port " + busyPort + ": 127.0.0.1:" + busyPort + " is already in use"},
		{name: "sim up port out of range", args: []string{"sim", "up", "--vcenter-port", "70000"}, want: "--vcenter-port 70000: want a TCP port 1-65535"},
		{name: "sim up one port twice", args: []string{"sim", "up", "--vcenter-port", "40001", "--apiserver-port", "40001"}, want: "--apiserver-port 40001: the same port as --vcenter-port"},
		{name: "sim up model malformed", args: []string{"sim", "up", "--model", badModel}, want: "--model " + badModel + ": parse"},
		{name: "sim up with a missing build", args: []string{"sim", "up", "--with", "vsphere-csi=" + filepath.Join(work, "no-csi")}, want: "--with vsphere-csi=" + filepath.Join(work, "no-csi")},
		{name: "sim status, nothing running", args: []string{"sim", "status"}, want: "no hermetic target is running"},
		{name: "sim status of a state dir below a file", args: []string{"sim", "status", "--state-dir", filepath.Join(aFile, "sim")}, want: "not a directory"},

		// desktop, sonobuoy, the rest.
		{name: "desktop check format", args: []string{"desktop", "check", "--format", "yaml"}, want: `--format "yaml": want text or json`},
		{name: "desktop check vmnet", args: []string{"desktop", "check", "--vmnet", "300"}, want: "--vmnet 300: want 0-255"},
		{name: "desktop check platform", args: []string{"desktop", "check", "--platform", "hyperv"}, want: `platform "hyperv"`},
		{name: "desktop unknown subcommand", args: []string{"desktop", "lint"}, want: `unknown command "lint" for "vsconform desktop"`},
		{name: "sonobuoy gen without config", args: []string{"sonobuoy", "gen"}, want: "--config is required"},
		{name: "sonobuoy gen negative timeout", args: []string{"sonobuoy", "gen", "--timeout", "-1s"}, want: "--timeout -1s: want a duration > 0"},
		{name: "sonobuoy gen label filter", args: []string{"sonobuoy", "gen", "--label-filter", "csi &&"}, want: "Unexpected EOF"},
		{name: "sonobuoy gen vCenter URL", args: []string{"sonobuoy", "gen", "--config", config("c-sg.yaml", vc("https://vc.example.com/sdk", "")), "--image", "x", "--secret", "s", "--vcenter-url", "vc.example.com:99999"}, want: "--vcenter-url: \"https://vc.example.com:99999\": port 99999 is not 1-65535"},
		{name: "sonobuoy gen config with the password", args: []string{"sonobuoy", "gen", "--config", config("c-sg-pw.yaml", "vcenter: {url: 'https://vc.example.com/sdk', username: admin, password: "+secret+"}\n"), "--image", "x", "--secret", "s"}, want: "vcenter.password is set"},
		{name: "sonobuoy run outside a plugin", args: []string{"sonobuoy", "run"}, want: "SONOBUOY_RESULTS_DIR is not set"},
		{name: "sonobuoy run focus", args: []string{"sonobuoy", "run", "--focus", "(("}, env: []string{"SONOBUOY_RESULTS_DIR=" + sonobuoyResults, "SONOBUOY_CONFIG_DIR=" + sonobuoyConfig}, want: `--focus "((": not a regular expression`},
		{name: "completion for an unknown shell", args: []string{"completion", "tcsh"}, want: `unknown command "tcsh" for "vsconform completion"`},
		{name: "misspelt command", args: []string{"rn"}, want: `unknown command "rn" for "vsconform" (did you mean run?)`},
	}
	if len(cases) < 40 {
		t.Fatalf("only %d cases", len(cases))
	}

	baseEnv := []string{asCLI + "=1", "HOME=" + filepath.Join(work, "home"), "TMPDIR=" + work,
		"VSCONFORM_STATE_DIR=" + filepath.Join(work, "nostate"), "VSCONFORM_BIN_DIR=" + filepath.Join(work, "nobin")}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if name == "HOME" || name == "TMPDIR" || name == "KUBECONFIG" || name == "NO_COLOR" ||
			strings.HasPrefix(name, "GOVC_") || strings.HasPrefix(name, "VSCONFORM_") ||
			strings.HasPrefix(name, "SONOBUOY_") || strings.HasPrefix(name, "KUBERNETES_") {
			continue
		}
		baseEnv = append(baseEnv, kv)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(self, tc.args...)
			cmd.Dir = work
			cmd.Env = append(append([]string{}, baseEnv...), tc.env...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			out := stdout.String() + stderr.String()
			line := strings.TrimSuffix(stderr.String(), "\n")
			switch {
			case code != exitUsage:
				t.Errorf("exit %d, want 2", code)
			case line == "" || strings.Contains(line, "\n"):
				t.Errorf("want exactly one line on stderr, got %d", strings.Count(stderr.String(), "\n"))
			case !strings.HasPrefix(line, "vsconform: "):
				t.Errorf("the line does not start with \"vsconform: \"")
			case !strings.Contains(line, tc.want):
				t.Errorf("the line does not say %q", tc.want)
			case tc.notWant != "" && strings.Contains(line, tc.notWant):
				t.Errorf("the line blames %q too", tc.notWant)
			case strings.Contains(out, "panic") || strings.Contains(out, "goroutine "):
				t.Errorf("a Go panic reached the user")
			case strings.Contains(out, "\x1b"):
				t.Errorf("terminal escapes in the output of a non-terminal")
			case strings.Contains(out, secret):
				t.Errorf("the password is in the output")
			case strings.Contains(out, "starting the hermetic target"):
				t.Errorf("the hermetic target was being brought up")
			case stdout.Len() > 0:
				t.Errorf("a usage error printed to stdout")
			}
			t.Log(line)
			if t.Failed() {
				t.Logf("vsconform %q\nstdout: %s\nstderr: %s", tc.args, stdout.String(), stderr.String())
			}
		})
	}
}

// TestBadInputPanic: the last line of defence turns a panic into one line,
// exit 2, and a hint to report it, with the stack in a file.
func TestBadInputPanic(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	root := func() *cobra.Command {
		r := &cobra.Command{Use: "vsconform", SilenceUsage: true, SilenceErrors: true}
		r.AddCommand(&cobra.Command{Use: "boom", RunE: func(*cobra.Command, []string) error {
			panic("\x1b[31mboom\x1b[0m\nsecond line")
		}})
		return r
	}
	var stdout, stderr bytes.Buffer
	code := runMain(root, []string{"boom"}, &stdout, &stderr)
	line := strings.TrimSuffix(stderr.String(), "\n")
	if code != exitUsage || strings.Contains(line, "\n") || strings.Contains(line, "goroutine ") || strings.Contains(line, "\x1b") ||
		!strings.HasPrefix(line, "vsconform: internal error: boom second line (") || !strings.Contains(line, "please report it") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
	stacks, _ := filepath.Glob(filepath.Join(os.Getenv("TMPDIR"), "vsconform-panic-*.txt"))
	if len(stacks) != 1 || !strings.Contains(line, stacks[0]) {
		t.Fatalf("stack files %v, line %s", stacks, line)
	}
	if b, _ := os.ReadFile(stacks[0]); !strings.Contains(string(b), "goroutine ") {
		t.Errorf("the stack file holds no stack:\n%s", b)
	}
}

func TestBadInputErrorLine(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                         "plain",
		"\x1b[1m\x1b[38;5;9mred\x1b[0m": "red",
		"a\n  b\n\n c\n":                "a b c",
		"tab\there":                     "tab here",
		"unknown command \"rn\" for \"vsconform\"\n\nDid you mean this?\n\trun\n": `unknown command "rn" for "vsconform" (did you mean run?)`,
	} {
		if got := errorLine(in); got != want {
			t.Errorf("errorLine(%q) = %q, want %q", in, got, want)
		}
	}
}

// closedLoopbackAddr is a loopback address nothing listens on.
func closedLoopbackAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// tlsServer is an HTTPS server on 127.0.0.1 with cert, or httptest's own
// self-signed certificate when nil; it returns the server's base URL.
func tlsServer(t *testing.T, cert *tls.Certificate) string {
	s := httptest.NewUnstartedServer(http.NotFoundHandler())
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshakes fail on purpose
	if cert != nil {
		s.TLS = &tls.Config{Certificates: []tls.Certificate{*cert}}
	}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s.URL
}

func newTestCA(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey, []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "vsconform test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return ca, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// leafCert is a server certificate for 127.0.0.1 that ca signed, valid
// from notBefore to notAfter.
func leafCert(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, notBefore, notAfter time.Time) *tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: notBefore, NotAfter: notAfter,
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
