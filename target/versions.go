package target

import (
	"context"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Versions is what a run qualified, as the target itself reports it.
type Versions struct {
	Kubernetes string
	// VCenter is the ServiceContent's About: product name, version, build.
	VCenter, VCenterVersion, VCenterBuild string
	// Components are the integration's containers found running, by image.
	Components []Component
	// Errors are the lookups that failed; the report shows them instead.
	Errors []string
}

// Component is one piece under test and its version.
type Component struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Source says where the version comes from: an image reference, or a
	// binary's Go build info and checksum.
	Source string `json:"source"`
}

// componentImages are the image names (last path element) of the
// integrations' containers.
var componentImages = []string{
	"driver", "syncer", "vsphere-csi-driver", "vsphere-csi-syncer", "vsphere-block-csi-driver",
	"csi-provisioner", "csi-attacher", "csi-resizer", "csi-snapshotter", "snapshot-controller",
	"csi-node-driver-registrar", "livenessprobe", "cloud-provider-vsphere", "manager",
	"vsphere-cloud-controller-manager", "controller", "speaker",
}

// Versions asks the API server, vCenter and the integration's pods (the CSI
// namespace, kube-system, metallb-system) what runs.
func (t *Target) Versions(ctx context.Context) Versions {
	var v Versions
	if sv, err := t.Kube.Discovery().ServerVersion(); err != nil {
		v.Errors = append(v.Errors, "kubernetes version: "+err.Error())
	} else {
		v.Kubernetes = sv.GitVersion
	}
	if t.VC != nil {
		about := t.VC.ServiceContent.About
		v.VCenter, v.VCenterVersion, v.VCenterBuild = about.FullName, about.Version, about.Build
	}
	seen := map[string]bool{}
	for _, ns := range []string{t.Config.CSI.Namespace, "kube-system", "metallb-system"} {
		if ns == "" {
			continue
		}
		pods, err := t.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			v.Errors = append(v.Errors, fmt.Sprintf("pods in %s: %v", ns, err))
			continue
		}
		for _, p := range pods.Items {
			for _, c := range p.Spec.Containers {
				name, tag := imageNameTag(c.Image)
				if !slices.Contains(componentImages, name) || seen[c.Image] {
					continue
				}
				seen[c.Image] = true
				v.Components = append(v.Components, Component{Name: ns + "/" + c.Name, Version: tag, Source: "image " + c.Image})
			}
		}
	}
	slices.SortFunc(v.Components, func(a, b Component) int { return strings.Compare(a.Name, b.Name) })
	return v
}

// imageNameTag splits an image reference into its last path element and
// its tag (or digest).
func imageNameTag(image string) (name, tag string) {
	ref := image
	if i := strings.LastIndex(ref, "@"); i >= 0 {
		ref, tag = ref[:i], ref[i+1:]
	}
	last := ref[strings.LastIndex(ref, "/")+1:]
	if i := strings.LastIndex(last, ":"); i >= 0 {
		if tag == "" {
			tag = last[i+1:]
		}
		last = last[:i]
	}
	return last, tag
}
