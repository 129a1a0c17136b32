package main

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/vsphere-conformance/vsphere-conformance/sim/stack"
)

// sonobuoyNamespace is where `sonobuoy run` puts the aggregator and plugins
// (its default).
const sonobuoyNamespace = "sonobuoy"

// testSonobuoyInCluster runs the plugin as users do: the definition from
// `vsconform sonobuoy gen`, run in the hermetic cluster by the real
// `sonobuoy run` on a real node with locally built images, `sonobuoy
// retrieve`, and `sonobuoy results` agreeing with the junit.xml the plugin
// wrote into the tarball.
func testSonobuoyInCluster(t *testing.T, bin, state, targetConfig, work string) {
	sb := sonobuoyCLI(t)
	kubeconfig := filepath.Join(state, "kubeconfig")

	out, code := runCLI(t, bin, "sim", "sonobuoy-images", "--state-dir", state)
	if code != 0 {
		t.Fatalf("sim sonobuoy-images exited %d:\n%s", code, out)
	}
	field := func(name string) string {
		m := regexp.MustCompile(`(?m)^` + name + `:\s+(\S+)$`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("sim sonobuoy-images printed no %q line:\n%s", name, out)
		}
		return m[1]
	}
	pluginImage, sonobuoyImage, vcenterURL := field("vsconform image"), field("sonobuoy image"), field("vCenter for pods")
	node := realNodeName(t, state)

	// The Secret the plugin definition names exists before the plugin pod.
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	kube := kubernetes.NewForConfigOrDie(rc)
	ctx := context.Background()
	password, err := os.ReadFile(filepath.Join(state, "config", "vcenter-password"))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(filepath.Join(state, "config", "vcenter-ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: sonobuoyNamespace}},
		metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "vsconform-vcenter", Namespace: sonobuoyNamespace},
		Data: map[string][]byte{"password": password, "ca.pem": ca}}
	if _, err := kube.CoreV1().Secrets(sonobuoyNamespace).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	out, code = runCLI(t, bin, "sonobuoy", "gen", "--image", pluginImage, "--config", targetConfig,
		"--secret", secret.Name, "--vcenter-url", vcenterURL, "--node-selector", "kubernetes.io/hostname="+node,
		"--label-filter", pluginLabelFilter)
	if code != 0 {
		t.Fatalf("sonobuoy gen exited %d:\n%s", code, out)
	}
	plugin := filepath.Join(work, "in-cluster-plugin.yaml")
	if err := os.WriteFile(plugin, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}

	sonobuoy := func(timeout time.Duration, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, sb, append(args, "--kubeconfig", kubeconfig)...)
		cmd.Env = append(os.Environ(), "HOME="+work)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("sonobuoy %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	defer func() {
		if t.Failed() {
			t.Logf("sonobuoy status:\n%s", sonobuoyStatus(sb, kubeconfig, work))
		}
		sonobuoy(2*time.Minute, "delete", "--wait")
	}()
	start := time.Now()
	// --skip-preflight: the namespace exists already, made above for the Secret.
	sonobuoy(10*time.Minute, "run", "--plugin", plugin, "--sonobuoy-image", sonobuoyImage,
		"--image-pull-policy", "Never", "--aggregator-node-selector", "kubernetes.io/hostname:"+node,
		"--skip-preflight", "--wait", "--wait-output", "silent")
	t.Logf("sonobuoy run --wait: %s", time.Since(start).Round(time.Second))

	retrieved := filepath.Join(work, "retrieved")
	if err := os.MkdirAll(retrieved, 0o755); err != nil {
		t.Fatal(err)
	}
	tarball := strings.TrimSpace(sonobuoy(2*time.Minute, "retrieve", retrieved))
	if _, err := os.Stat(tarball); err != nil {
		t.Fatalf("sonobuoy retrieve printed %q: %v", tarball, err)
	}
	junit := extractFile(t, tarball, "plugins/vsconform/results/global/", "junit.xml", work)
	ours, failedSpecs := readJUnit(t, junit)
	if ran := ours.passed + len(failedSpecs) + ours.skipped - ours.filtered; ran == 0 {
		t.Fatalf("the plugin ran no spec: %+v", ours)
	}
	theirs, text := sonobuoyResults(t, tarball)
	t.Logf("sonobuoy results:\n%s", text)
	ours.filtered = 0
	if theirs != ours {
		t.Errorf("sonobuoy results says %+v, the plugin's junit.xml %+v", theirs, ours)
	}
	if len(failedSpecs) > 0 {
		t.Errorf("specs failed in the cluster: %q", failedSpecs)
	}
}

// realNodeName is the first real (kubelet) node of the hermetic target.
func realNodeName(t *testing.T, state string) string {
	t.Helper()
	s, err := stack.Load(state)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.RealNodes) == 0 {
		t.Fatalf("the hermetic target at %s has no real node", state)
	}
	return s.RealNodes[0].Name
}

func sonobuoyStatus(sb, kubeconfig, home string) string {
	cmd := exec.Command(sb, "status", "--json", "--kubeconfig", kubeconfig)
	cmd.Env = append(os.Environ(), "HOME="+home)
	out, _ := cmd.CombinedOutput()
	return string(out)
}

// extractFile copies the file named name below prefix in a gzipped tarball
// into dir and returns its path.
func extractFile(t *testing.T, tarball, prefix, name, dir string) string {
	t.Helper()
	f, err := os.Open(tarball)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if strings.HasPrefix(h.Name, prefix) && filepath.Base(h.Name) == name {
			path := filepath.Join(dir, "extracted-"+name)
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			return path
		}
	}
	t.Fatalf("%s holds no %s below %s: %v", tarball, name, prefix, names)
	return ""
}
