package stack

import (
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

// The kwokctl config makes kwok manage only annotated nodes and gives kcm a
// node monitor grace period that outlasts several lease renewals.
func TestKwokctlConfig(t *testing.T) {
	out := kwokctlConfig(6443, func(n string) string { return filepath.Join("/bin", n) }, "/pki")
	var got struct {
		Kind    string         `json:"kind"`
		Options map[string]any `json:"options"`
		Patches []struct {
			Name      string `json:"name"`
			ExtraArgs []struct {
				Key      string `json:"key"`
				Value    string `json:"value"`
				Override bool   `json:"override"`
			} `json:"extraArgs"`
		} `json:"componentsPatches"`
	}
	if err := yaml.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("config does not parse: %v\n%s", err, out)
	}
	if got.Kind != "KwokctlConfiguration" {
		t.Errorf("kind %q", got.Kind)
	}
	for _, c := range []struct {
		key  string
		want any
	}{
		{"runtime", "binary"},
		{"bindAddress", "127.0.0.1"},
		{"kubeApiserverPort", float64(6443)},
		{"kwokControllerBinary", "/bin/kwok"},
		{"heartbeatFactor", float64(1)},
		{"nodeLeaseDurationSeconds", float64(nodeLeaseDurationSeconds)},
		{"kubeControllerManagerNodeMonitorGracePeriodMilliseconds", float64(nodeMonitorGraceMilliseconds)},
		{"kubeControllerManagerNodeMonitorPeriodMilliseconds", float64(nodeMonitorPeriodMilliseconds)},
	} {
		if got.Options[c.key] != c.want {
			t.Errorf("options.%s = %v, want %v", c.key, got.Options[c.key], c.want)
		}
	}
	// kcm must see at least three renewals (every duration/4) per grace period.
	if renew := nodeLeaseDurationSeconds * 1000 / 4; nodeMonitorGraceMilliseconds < 3*renew {
		t.Errorf("grace %d ms is under three lease renewals of %d ms", nodeMonitorGraceMilliseconds, renew)
	}
	if len(got.Patches) != 2 || got.Patches[0].Name != "kube-apiserver" || got.Patches[1].Name != "kwok-controller" {
		t.Fatalf("componentsPatches = %+v, want kube-apiserver's and kwok-controller's", got.Patches)
	}
	// The API server reaches real kubelets with a client certificate the
	// cluster CA signed, by their InternalIP.
	apiArgs := map[string]string{}
	for _, a := range got.Patches[0].ExtraArgs {
		apiArgs[a.Key] = a.Value
	}
	if apiArgs["kubelet-client-certificate"] != "/pki/admin.crt" || apiArgs["kubelet-client-key"] != "/pki/admin.key" || apiArgs["kubelet-preferred-address-types"] != "InternalIP" {
		t.Errorf("kube-apiserver extra args %v", apiArgs)
	}
	args := map[string]string{}
	for _, a := range got.Patches[1].ExtraArgs {
		args[a.Key] = a.Value
		if a.Key == "manage-all-nodes" && !a.Override {
			t.Errorf("manage-all-nodes must override kwokctl's --manage-all-nodes=true")
		}
	}
	if args["manage-all-nodes"] != "false" {
		t.Errorf("manage-all-nodes = %q", args["manage-all-nodes"])
	}
	sel, err := labels.Parse(args["manage-nodes-with-annotation-selector"])
	if err != nil {
		t.Fatalf("annotation selector: %v", err)
	}
	for _, c := range []struct {
		annotations map[string]string
		want        bool
	}{
		{map[string]string{"kwok.x-k8s.io/node": "fake"}, true}, // what createNodes and target.RegisterFakeNode set
		{map[string]string{}, false},                            // a stopped fake kubelet
		{map[string]string{"kwok.x-k8s.io/node": "real"}, false},
	} {
		if got := sel.Matches(labels.Set(c.annotations)); got != c.want {
			t.Errorf("selector %q on %v = %v, want %v", sel, c.annotations, got, c.want)
		}
	}
}
