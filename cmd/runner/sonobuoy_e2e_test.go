package main

import (
	"encoding/json"
	"encoding/xml"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	sbplugin "github.com/vmware-tanzu/sonobuoy/pkg/plugin"

	"github.com/vsphere-conformance/vsphere-conformance/sonobuoy"
)

// pluginLabelFilter keeps the plugin-mode runs short; any filter works.
const pluginLabelFilter = "csi && negative"

// sonobuoyCLI is the real sonobuoy binary, a pinned tool built by
// scripts/build-tools.sh beside vsconform.
func sonobuoyCLI(t *testing.T) string {
	bin := filepath.Join(filepath.Dir(vsconform(t)), "sonobuoy")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("the pinned sonobuoy binary is missing (scripts/build-tools.sh builds it): %v", err)
	}
	return bin
}

// junitCounts counts a junit.xml's cases the way Sonobuoy's junit
// post-processor does; filtered counts the cases the label filter left out
// (skipped with no message).
type junitCounts struct{ passed, failed, skipped, filtered int }

func readJUnitCounts(t *testing.T, path string) junitCounts {
	c, _ := readJUnit(t, path)
	return c
}

// readJUnit also returns the names of the failed specs (suite-level
// "[AfterSuite]"-style cases left out).
func readJUnit(t *testing.T, path string) (junitCounts, []string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Suites []struct {
			Cases []struct {
				Name    string    `xml:"name,attr"`
				Failure *struct{} `xml:"failure"`
				Error   *struct{} `xml:"error"`
				Skipped *struct {
					Message string `xml:"message,attr"`
				} `xml:"skipped"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var c junitCounts
	var failed []string
	for _, s := range doc.Suites {
		for _, tc := range s.Cases {
			switch {
			case tc.Skipped != nil:
				c.skipped++
				if tc.Skipped.Message == "" {
					c.filtered++
				}
			case tc.Failure != nil || tc.Error != nil:
				c.failed++
				if !strings.HasPrefix(tc.Name, "[") {
					failed = append(failed, tc.Name)
				}
			default:
				c.passed++
			}
		}
	}
	return c, failed
}

// sonobuoyResults runs `sonobuoy results TARBALL` and parses its summary.
func sonobuoyResults(t *testing.T, tarball string) (junitCounts, string) {
	t.Helper()
	out, err := exec.Command(sonobuoyCLI(t), "results", tarball).CombinedOutput()
	if err != nil {
		t.Fatalf("sonobuoy results %s: %v\n%s", tarball, err, out)
	}
	field := func(name string) int {
		m := regexp.MustCompile(`(?m)^` + name + `: (\d+)$`).FindSubmatch(out)
		if m == nil {
			t.Fatalf("sonobuoy results printed no %s line:\n%s", name, out)
		}
		n, _ := strconv.Atoi(string(m[1]))
		return n
	}
	return junitCounts{passed: field("Passed"), failed: field("Failed"), skipped: field("Skipped")}, string(out)
}

// progressRecorder is the worker sidecar's progress endpoint, on loopback.
type progressRecorder struct {
	mu      sync.Mutex
	updates []sbplugin.ProgressUpdate
}

func (p *progressRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var u sbplugin.ProgressUpdate
	if r.URL.Path != "/progress" || json.NewDecoder(r.Body).Decode(&u) != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	p.updates = append(p.updates, u)
	p.mu.Unlock()
}

// TestSonobuoyPluginMode runs `vsconform sonobuoy run` as the plugin pod
// would, against the hermetic target: results and done file in
// SONOBUOY_RESULTS_DIR, progress posted to the worker's port, and the real
// `sonobuoy results` agreeing with our junit.xml, both for the plugin run
// (post-processed as the aggregator does) and for `run --sonobuoy-tarball`.
func TestSonobuoyPluginMode(t *testing.T) {
	bin := vsconform(t)
	sonobuoyCLI(t)
	work := t.TempDir()
	state := filepath.Join(work, "sim")
	out, code := runCLI(t, bin, "sim", "up", "--state-dir", state)
	defer runCLI(t, bin, "sim", "down", "--state-dir", state)
	if code != 0 {
		t.Fatalf("sim up exited %d:\n%s", code, out)
	}
	m := regexp.MustCompile(`(?m)^target config: (\S+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("sim up printed no target config:\n%s", out)
	}
	targetConfig := m[1]

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rec := &progressRecorder{}
	srv := &http.Server{Handler: rec}
	go srv.Serve(l)
	defer srv.Close()

	results := filepath.Join(work, "sonobuoy-results")
	if err := os.MkdirAll(results, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "sonobuoy", "run", "--config", targetConfig, "--label-filter", pluginLabelFilter)
	cmd.Env = append(os.Environ(), "SONOBUOY_RESULTS_DIR="+results,
		"SONOBUOY_PROGRESS_PORT="+strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
	combined, err := cmd.CombinedOutput()
	t.Logf("sonobuoy run:\n%s", combined)
	// Exit 1 (a spec failed) is a finished run too: it must be reported alike.
	exit := 0
	if ee, ok := err.(*exec.ExitError); ok {
		exit = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if exit != 0 && exit != 1 {
		t.Fatalf("vsconform sonobuoy run exited %d", exit)
	}

	done, err := os.ReadFile(filepath.Join(results, sonobuoy.DoneFile))
	if err != nil {
		t.Fatalf("no done file: %v", err)
	}
	runDir := string(done)
	if filepath.Dir(runDir) != results {
		t.Fatalf("done file names %q, want a folder in %s", runDir, results)
	}
	for _, f := range []string{"junit.xml", "report.json", "report.html"} {
		if _, err := os.Stat(filepath.Join(runDir, f)); err != nil {
			t.Errorf("the done folder lacks %s: %v", f, err)
		}
	}
	ours, failedSpecs := readJUnit(t, filepath.Join(runDir, "junit.xml"))
	ran := ours.passed + len(failedSpecs) + ours.skipped - ours.filtered
	if ran == 0 {
		t.Fatalf("the label filter %q ran no spec: %+v", pluginLabelFilter, ours)
	}
	if (exit == 1) != (ours.failed > 0) {
		t.Errorf("exit %d with %d failed cases in junit.xml", exit, ours.failed)
	}

	rec.mu.Lock()
	ups := append([]sbplugin.ProgressUpdate(nil), rec.updates...)
	rec.mu.Unlock()
	if len(ups) != ran+1 {
		t.Fatalf("%d progress posts, want one at the start and one per spec run (%d): %+v", len(ups), ran, ups)
	}
	for i, u := range ups {
		if u.Total != int64(ran) || u.Completed != int64(i) {
			t.Errorf("post %d: completed %d of %d, want %d of %d", i, u.Completed, u.Total, i, ran)
		}
	}
	last := append([]string(nil), ups[len(ups)-1].Failures...)
	sort.Strings(last)
	sort.Strings(failedSpecs)
	if strings.Join(last, "|") != strings.Join(failedSpecs, "|") {
		t.Errorf("last post lists failures %q, junit.xml %q", last, failedSpecs)
	}

	// What the aggregator makes of the plugin's results, read by the real CLI.
	tarball := filepath.Join(work, "plugin-mode.tar.gz")
	if _, err := sonobuoy.Tarball(runDir, tarball, "", "plugin-mode"); err != nil {
		t.Fatal(err)
	}
	theirs, text := sonobuoyResults(t, tarball)
	t.Logf("sonobuoy results (exit %d):\n%s", exit, text)
	ours.filtered = 0
	if theirs != ours {
		t.Errorf("sonobuoy results says %+v, our junit.xml %+v:\n%s", theirs, ours, text)
	}

	t.Run("in the cluster under sonobuoy run", func(t *testing.T) {
		testSonobuoyInCluster(t, bin, state, targetConfig, work)
	})

	t.Run("run --sonobuoy-tarball", func(t *testing.T) {
		tb := filepath.Join(work, "local.tar.gz")
		out, code := runCLI(t, bin, "run", "--target", "existing", "--config", targetConfig,
			"--label-filter", "csi && provisioning && negative", "--results-dir", filepath.Join(work, "local"), "--sonobuoy-tarball", tb)
		if code > 1 || !strings.Contains(out, "sonobuoy results: "+tb) {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		junits, _ := filepath.Glob(filepath.Join(work, "local", "*", "junit.xml"))
		if len(junits) != 1 {
			t.Fatalf("junit.xml files: %v", junits)
		}
		want := readJUnitCounts(t, junits[0])
		want.filtered = 0
		if got, text := sonobuoyResults(t, tb); got != want {
			t.Errorf("sonobuoy results says %+v, junit.xml %+v:\n%s", got, want, text)
		}
	})
}

// TestSonobuoyGen: the plugin definition is accepted by the real `sonobuoy
// gen --plugin` offline, and bad input gets one line and exit 2.
func TestSonobuoyGen(t *testing.T) {
	bin := vsconform(t)
	sb := sonobuoyCLI(t)
	work := t.TempDir()
	cfg := filepath.Join(work, "target.yaml")
	os.WriteFile(cfg, []byte("apiVersion: vsconform.io/v1alpha1\nkind: Target\nname: lab\nkubeconfig: /k\n"+
		"vcenter: {url: https://vc.example.com/sdk, username: admin, passwordFile: /pw}\n"), 0o600)
	out, code := runCLI(t, bin, "sonobuoy", "gen", "--image", "registry.example.com/vsconform:v1",
		"--config", cfg, "--secret", "vsconform-vcenter", "--label-filter", "csi && !scale")
	if code != 0 {
		t.Fatalf("gen exited %d:\n%s", code, out)
	}
	plugin := filepath.Join(work, "vsconform.yaml")
	os.WriteFile(plugin, []byte(out), 0o644)

	cmd := exec.Command(sb, "gen", "--plugin", plugin, "--kubernetes-version", "v1.34.2")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+filepath.Join(work, "none"), "HOME="+work)
	manifests, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sonobuoy gen --plugin: %v\n%s", err, manifests)
	}
	for _, want := range []string{"plugin-name: vsconform", "name: plugin-vsconform-cm", "secretName: vsconform-vcenter",
		"passwordFile: " + sonobuoy.PasswordPath} {
		if !strings.Contains(string(manifests), want) {
			t.Errorf("sonobuoy's manifests lack %q", want)
		}
	}

	inline := filepath.Join(work, "inline.yaml")
	os.WriteFile(inline, []byte("apiVersion: vsconform.io/v1alpha1\nkind: Target\nvcenter: {password: canary-pw-123}\n"), 0o600)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"inline password", []string{"--image", "i", "--secret", "s", "--config", inline}, "vcenter.password is set"},
		{"no secret", []string{"--image", "i", "--config", cfg}, "--secret is required"},
		{"no config", []string{"--image", "i", "--secret", "s"}, "--config is required"},
		{"unknown label", []string{"--image", "i", "--secret", "s", "--config", cfg, "--label-filter", "csii"}, `unknown label "csii"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, code := runCLI(t, bin, append([]string{"sonobuoy", "gen"}, tc.args...)...)
			text := strings.TrimSpace(out)
			if code != 2 || strings.Contains(text, "\n") || !strings.Contains(text, tc.want) || strings.Contains(text, "canary-pw-123") {
				t.Errorf("want exit 2 and one line with %q, got %d:\n%s", tc.want, code, out)
			}
		})
	}
}

// TestSonobuoyRunSetupFailure: a plugin whose run cannot start still hands
// Sonobuoy a result that says why.
func TestSonobuoyRunSetupFailure(t *testing.T) {
	bin := vsconform(t)
	work := t.TempDir()
	cmd := exec.Command(bin, "sonobuoy", "run")
	cmd.Env = append(os.Environ(), "SONOBUOY_RESULTS_DIR="+work, "SONOBUOY_CONFIG_DIR="+filepath.Join(work, "nowhere"))
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("want exit 2, got %v:\n%s", err, out)
	}
	done, err := os.ReadFile(filepath.Join(work, sonobuoy.DoneFile))
	if err != nil {
		t.Fatalf("no done file: %v", err)
	}
	c := readJUnitCounts(t, filepath.Join(string(done), "junit.xml"))
	if c.failed != 1 || c.passed+c.skipped != 0 {
		t.Errorf("setup failure junit: %+v", c)
	}

	cmd = exec.Command(bin, "sonobuoy", "run")
	cmd.Env = append(os.Environ(), "SONOBUOY_RESULTS_DIR=")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "SONOBUOY_RESULTS_DIR is not set") {
		t.Errorf("without SONOBUOY_RESULTS_DIR: %v %s", err, out)
	}
}
