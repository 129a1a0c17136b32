// Package sonobuoy runs vsconform as a Sonobuoy plugin: the plugin
// definition, progress updates, the done file, and results tarballs that
// `sonobuoy results` reads. It uses Sonobuoy's own types, encoder and
// post-processing (github.com/vmware-tanzu/sonobuoy as a library), so what it
// writes is what Sonobuoy itself would.
package sonobuoy

import (
	"errors"
	"fmt"
	"path"
	"time"

	"github.com/vmware-tanzu/sonobuoy/pkg/plugin/driver"
	"github.com/vmware-tanzu/sonobuoy/pkg/plugin/manifest"
	corev1 "k8s.io/api/core/v1"
	kuberuntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"
)

// The plugin's contract with its image and with `vsconform sonobuoy run`.
const (
	DefaultPluginName = "vsconform"
	// ResultsFile is the plugin's result file (result-format junit).
	ResultsFile = "junit.xml"
	// ConfigFile is the target config's key in the plugin's config-map;
	// Sonobuoy mounts the config-map at $SONOBUOY_CONFIG_DIR.
	ConfigFile = "target.yaml"
	// CredentialsDir is where the vCenter Secret is mounted: key "password",
	// and "ca.pem" when the config names a CA file.
	CredentialsDir = "/etc/vsconform/vcenter"
	// Binary is vsconform's path in the image (see Dockerfile).
	Binary    = "/vsconform"
	SourceURL = "https://github.com/vsphere-conformance/vsphere-conformance"
)

// PluginOptions are the inputs of `vsconform sonobuoy gen`.
type PluginOptions struct {
	Name        string
	Image       string
	LabelFilter string
	Timeout     time.Duration
	// Config is the target config YAML, without credentials (see
	// PluginConfig); it travels in the plugin's config-map.
	Config []byte
	// Secret names the Secret holding the vCenter password (key "password",
	// optional "username" and "ca.pem"). Never the password itself.
	Secret string
	// NodeSelector, when set, keeps the plugin pod on matching nodes.
	NodeSelector map[string]string
}

// Manifest builds the plugin definition with Sonobuoy's own types.
func Manifest(o PluginOptions) (*manifest.Manifest, error) {
	if o.Name == "" {
		o.Name = DefaultPluginName
	}
	switch {
	case o.Image == "":
		return nil, errors.New("--image is required")
	case o.Secret == "":
		return nil, errors.New("--secret is required: the vCenter password comes from a Secret, never the plugin YAML")
	case len(o.Config) == 0:
		return nil, errors.New("--config is required")
	}
	// Both end up in Kubernetes object names and references.
	if errs := validation.IsDNS1123Label(o.Name); len(errs) > 0 {
		return nil, fmt.Errorf("--plugin-name %q: %s", o.Name, errs[0])
	}
	if errs := validation.IsDNS1123Subdomain(o.Secret); len(errs) > 0 {
		// Not echoed: a mistaken value here may be the password itself.
		return nil, fmt.Errorf("--secret: not a Secret name (%s); give the Secret's name, not its content", errs[0])
	}
	args := []string{"sonobuoy", "run"}
	if o.LabelFilter != "" {
		args = append(args, "--label-filter", o.LabelFilter)
	}
	if o.Timeout > 0 {
		args = append(args, "--timeout", o.Timeout.String())
	}
	desc := "vSphere CSI driver, CPI and CNS checked from Kubernetes and from vCenter"
	if o.LabelFilter != "" {
		desc += fmt.Sprintf(" (label filter %q)", o.LabelFilter)
	}
	for k, v := range o.NodeSelector {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return nil, fmt.Errorf("--node-selector key %q: %s", k, errs[0])
		}
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			return nil, fmt.Errorf("--node-selector %s=%q: %s", k, v, errs[0])
		}
	}
	var podSpec *manifest.PodSpec
	if len(o.NodeSelector) > 0 {
		// Sonobuoy's own pod spec for Job plugins, with the selector added
		// (a plugin's podSpec replaces the default one whole).
		podSpec = &manifest.PodSpec{PodSpec: driver.DefaultPodSpec("Job")}
		for k, v := range o.NodeSelector {
			podSpec.NodeSelector[k] = v
		}
	}
	const credentials = "vcenter-credentials"
	return &manifest.Manifest{
		PodSpec: podSpec,
		SonobuoyConfig: manifest.SonobuoyConfig{
			Driver:       "Job",
			PluginName:   o.Name,
			ResultFormat: "junit",
			ResultFiles:  []string{ResultsFile},
			Description:  desc,
			SourceURL:    SourceURL,
		},
		Spec: manifest.Container{Container: corev1.Container{
			Name:            "plugin",
			Image:           o.Image,
			ImagePullPolicy: corev1.PullIfNotPresent,
			Command:         []string{Binary},
			Args:            args,
			Env: []corev1.EnvVar{{
				// Only used when the config names no username.
				Name: "GOVC_USERNAME",
				ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: o.Secret},
					Key:                  "username", Optional: ptr.To(true),
				}},
			}},
			VolumeMounts: []corev1.VolumeMount{
				{Name: "results", MountPath: "/tmp/sonobuoy/results"},
				{Name: credentials, MountPath: CredentialsDir, ReadOnly: true},
			},
			SecurityContext: &corev1.SecurityContext{
				RunAsNonRoot:             ptr.To(true),
				AllowPrivilegeEscalation: ptr.To(false),
			},
		}},
		ExtraVolumes: []manifest.Volume{{Volume: corev1.Volume{
			Name:         credentials,
			VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: o.Secret}},
		}}},
		ConfigMap: map[string]string{ConfigFile: string(o.Config)},
	}, nil
}

// Generate renders the plugin definition as YAML with Sonobuoy's encoder.
func Generate(o PluginOptions) ([]byte, error) {
	m, err := Manifest(o)
	if err != nil {
		return nil, err
	}
	return kuberuntime.Encode(manifest.Encoder, m)
}

// Where a plugin finds what the Secret holds.
var (
	PasswordPath = path.Join(CredentialsDir, "password")
	CAPath       = path.Join(CredentialsDir, "ca.pem")
)
