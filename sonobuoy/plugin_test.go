package sonobuoy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmware-tanzu/sonobuoy/pkg/plugin/loader"
	corev1 "k8s.io/api/core/v1"
)

var genOpts = PluginOptions{
	Image:       "registry.example.com/vsconform:v1",
	LabelFilter: "csi && !scale",
	Timeout:     90 * time.Minute,
	Config:      []byte("apiVersion: vsconform.io/v1alpha1\nkind: Target\n"),
	Secret:      "vcenter-creds",
}

// The definition loads with Sonobuoy's own loader, as `sonobuoy gen
// --plugin` and the aggregator load it, and says what the contract asks.
func TestGenerateLoadsWithSonobuoyLoader(t *testing.T) {
	data, err := Generate(genOpts)
	if err != nil {
		t.Fatal(err)
	}
	def, err := loader.LoadDefinition(data)
	if err != nil {
		t.Fatalf("sonobuoy's loader: %v\n%s", err, data)
	}
	sc := def.SonobuoyConfig
	if sc.Driver != "Job" || sc.PluginName != "vsconform" || sc.ResultFormat != "junit" ||
		len(sc.ResultFiles) != 1 || sc.ResultFiles[0] != "junit.xml" || sc.SourceURL == "" || !strings.Contains(sc.Description, "csi && !scale") {
		t.Errorf("sonobuoy-config: %+v", sc)
	}
	c := def.Spec.Container
	if c.Image != genOpts.Image || c.Command[0] != Binary {
		t.Errorf("container: image %q command %v", c.Image, c.Command)
	}
	args := strings.Join(c.Args, " ")
	for _, want := range []string{"sonobuoy run", "--label-filter csi && !scale", "--timeout 1h30m0s"} {
		if !strings.Contains(args, want) {
			t.Errorf("args %q lack %q", args, want)
		}
	}
	if def.ConfigMap[ConfigFile] != string(genOpts.Config) {
		t.Errorf("config-map: %v", def.ConfigMap)
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	if mounts["results"] != "/tmp/sonobuoy/results" || mounts["vcenter-credentials"] != CredentialsDir {
		t.Errorf("mounts %v", mounts)
	}
	if len(def.ExtraVolumes) != 1 || def.ExtraVolumes[0].Secret == nil || def.ExtraVolumes[0].Secret.SecretName != "vcenter-creds" {
		t.Errorf("extra-volumes %+v", def.ExtraVolumes)
	}
	// Credentials are references only: no env var carries a literal value.
	for _, e := range c.Env {
		if e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			t.Errorf("env %s is not a secretKeyRef: %+v", e.Name, e)
		}
	}
	if sc := c.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Errorf("securityContext %+v", sc)
	}

	// The full path: a plugin directory loaded into a Job plugin.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "vsconform.yaml"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	plugins, err := loader.LoadAllPlugins("sonobuoy", "sonobuoy/sonobuoy:v0.57.5", string(corev1.PullIfNotPresent), "", nil, []string{dir}, nil)
	if err != nil || len(plugins) != 1 || plugins[0].GetName() != "vsconform" || plugins[0].GetResultFormat() != "junit" {
		t.Fatalf("LoadAllPlugins: %v %v", plugins, err)
	}
}

func TestGenerateRefusesIncompleteOptions(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*PluginOptions)
		want string
	}{
		{"no image", func(o *PluginOptions) { o.Image = "" }, "--image"},
		{"no secret", func(o *PluginOptions) { o.Secret = "" }, "--secret"},
		{"no config", func(o *PluginOptions) { o.Config = nil }, "--config"},
		{"bad secret name", func(o *PluginOptions) { o.Secret = "Hunter2 Pass" }, "not a Secret name"},
		{"bad plugin name", func(o *PluginOptions) { o.Name = "vs_conform" }, "--plugin-name"},
		{"bad selector key", func(o *PluginOptions) { o.NodeSelector = map[string]string{"a b": "x"} }, "--node-selector key"},
		{"bad selector value", func(o *PluginOptions) { o.NodeSelector = map[string]string{"zone": "a b"} }, "--node-selector zone="},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := genOpts
			c.edit(&o)
			_, err := Generate(o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
			if err != nil && strings.Contains(err.Error(), "Hunter2") {
				t.Errorf("error echoes the --secret value: %v", err)
			}
		})
	}
}

func TestGeneratePluginName(t *testing.T) {
	o := genOpts
	o.Name = "vsconform-csi"
	data, err := Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	def, err := loader.LoadDefinition(data)
	if err != nil || def.SonobuoyConfig.PluginName != "vsconform-csi" {
		t.Errorf("plugin name: %v %+v", err, def.SonobuoyConfig)
	}
}

// A node selector keeps Sonobuoy's default Job pod spec (its tolerations and
// service account) and adds the selector, as the aggregator will schedule it.
func TestGenerateNodeSelector(t *testing.T) {
	o := genOpts
	o.NodeSelector = map[string]string{"kubernetes.io/hostname": "node-a1"}
	data, err := Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	def, err := loader.LoadDefinition(data)
	if err != nil {
		t.Fatal(err)
	}
	ps := def.PodSpec
	if ps == nil || ps.NodeSelector["kubernetes.io/hostname"] != "node-a1" {
		t.Fatalf("podSpec %+v", ps)
	}
	if ps.ServiceAccountName == "" || len(ps.Tolerations) == 0 {
		t.Errorf("podSpec lost Sonobuoy's defaults: %+v", ps.PodSpec)
	}
	// Without a selector the plugin leaves the pod spec to Sonobuoy.
	data, _ = Generate(genOpts)
	if def, _ := loader.LoadDefinition(data); def.PodSpec != nil {
		t.Errorf("podSpec without selector: %+v", def.PodSpec)
	}
}
