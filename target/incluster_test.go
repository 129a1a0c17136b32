package target

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// inPod is the environment the kubelet gives every container.
var inPod = map[string]string{"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443", "HOME": "/home/u"}

func TestLoadConfigInCluster(t *testing.T) {
	for _, c := range []struct {
		name           string
		file           string
		env            map[string]string
		wantInCluster  bool
		wantKubeconfig string
	}{
		{name: "in a pod without kubeconfig", file: "kind: Target\n", env: inPod, wantInCluster: true},
		{name: "empty kubeconfig field in a pod", file: "kubeconfig: \"\"\n", env: inPod, wantInCluster: true},
		{name: "kubeconfig in the file wins", file: "kubeconfig: /etc/kube/config\n", env: inPod, wantKubeconfig: "/etc/kube/config"},
		{name: "KUBECONFIG wins", file: "kind: Target\n", env: with(inPod, "KUBECONFIG", "/k"), wantKubeconfig: "/k"},
		{name: "host without port is not a pod", file: "kind: Target\n",
			env: map[string]string{"KUBERNETES_SERVICE_HOST": "10.96.0.1", "HOME": "/home/u"}, wantKubeconfig: "/home/u/.kube/config"},
		{name: "outside a pod", file: "kind: Target\n", env: map[string]string{"HOME": "/home/u"}, wantKubeconfig: "/home/u/.kube/config"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := LoadConfig(writeFile(t, t.TempDir(), "t.yaml", c.file), envMap(c.env))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.InCluster != c.wantInCluster || cfg.Kubeconfig != c.wantKubeconfig {
				t.Errorf("InCluster=%t kubeconfig=%q, want %t %q", cfg.InCluster, cfg.Kubeconfig, c.wantInCluster, c.wantKubeconfig)
			}
		})
	}
}

func with(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for a, b := range m {
		out[a] = b
	}
	return out
}

// An in-cluster config validates without a kubeconfig file; Connect then
// asks client-go for the service account and says so when there is none.
func TestConnectInClusterWithoutServiceAccount(t *testing.T) {
	dir := t.TempDir()
	cfg, err := LoadConfig(writeFile(t, dir, "t.yaml", `apiVersion: vsconform.io/v1alpha1
kind: Target
vcenter: {url: "https://127.0.0.1:1/sdk", username: u, passwordFile: pw}
`), envMap(inPod))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "pw", "secret-pw-42\n")
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	// This machine is no pod: rest.InClusterConfig finds no token.
	t.Setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
	t.Setenv("KUBERNETES_SERVICE_PORT", "1")
	_, err = Connect(context.Background(), cfg)
	if !errors.Is(err, ErrKubeconfig) || !strings.Contains(err.Error(), "in-cluster config") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("want one-line ErrKubeconfig about the in-cluster config, got %v", err)
	}
}
