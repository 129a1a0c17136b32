// Package cpi holds the conformance specs of the vSphere cloud provider
// (CPI): node initialisation (providerID, addresses, instance type), zones
// and regions from vSphere tags, node lifecycle, initialisation at scale,
// and Services of type LoadBalancer. One feature per file; every spec
// checks what Kubernetes shows against what vCenter shows.
package cpi

import (
	"context"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vsphere-conformance/vsphere-conformance/target"
)

const providerPrefix = "vsphere://"

// Node labels the CPI sets.
const (
	labelZone         = "topology.kubernetes.io/zone"
	labelRegion       = "topology.kubernetes.io/region"
	labelInstanceType = "node.kubernetes.io/instance-type"
)

// initialisedNodes lists the cluster's nodes, all initialised by the CPI;
// one it has not initialised, or none at all, fails the spec.
func initialisedNodes(ctx context.Context, t *target.Target) []corev1.Node {
	GinkgoHelper()
	// Every node of the cluster, not only those that happen to be ready: a
	// node the CPI never initialised is a failure, named. Nodes that specs
	// create (label vsconform.io/spec) are checked by those specs, while
	// they are still being initialised. The CPI gets a short, bounded while
	// for a node that has just joined.
	var out, pending []corev1.Node
	Eventually(func(ctx context.Context) ([]string, error) {
		list, err := t.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		out, pending = nil, nil
		var names []string
		for _, n := range list.Items {
			if n.Labels[target.LabelSpec] == "true" {
				continue
			}
			if hasTaint(n, target.TaintUninitialized) || !strings.HasPrefix(n.Spec.ProviderID, providerPrefix) {
				pending = append(pending, n)
				names = append(names, fmt.Sprintf("%s (providerID %q, uninitialized taint %v)", n.Name, n.Spec.ProviderID, hasTaint(n, target.TaintUninitialized)))
				continue
			}
			out = append(out, n)
		}
		return names, nil
	}).WithContext(ctx).WithTimeout(30*time.Second).Should(BeEmpty(), "nodes of the cluster the vSphere CPI has not initialised")
	Expect(out).NotTo(BeEmpty(), "the cluster has no node for the vSphere CPI to initialise")
	return out
}

func hasTaint(n corev1.Node, key string) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == key {
			return true
		}
	}
	return false
}

// vmInfo is what vCenter says about a node's VM.
type vmInfo struct {
	BIOSUUID  string
	Hostname  string
	IPs       []string
	CPUs      int32
	MemoryMB  int32
	PowerOn   bool
	Reference string
}

// readVM reads the VM's identity, guest network and size.
func readVM(ctx context.Context, vm *object.VirtualMachine) vmInfo {
	GinkgoHelper()
	var o mo.VirtualMachine
	Expect(vm.Properties(ctx, vm.Reference(), []string{"config.uuid", "guest", "summary.config", "runtime.powerState"}, &o)).To(Succeed())
	info := vmInfo{Reference: vm.Reference().Value, CPUs: o.Summary.Config.NumCpu, MemoryMB: o.Summary.Config.MemorySizeMB,
		PowerOn: o.Runtime.PowerState == "poweredOn"}
	if o.Config != nil {
		info.BIOSUUID = o.Config.Uuid
	}
	if g := o.Guest; g != nil {
		info.Hostname = g.HostName
		for _, nic := range g.Net {
			info.IPs = append(info.IPs, nic.IpAddress...)
		}
	}
	return info
}

// nodeAddresses groups a node's addresses by type.
func nodeAddresses(n *corev1.Node) map[corev1.NodeAddressType][]string {
	out := map[corev1.NodeAddressType][]string{}
	for _, a := range n.Status.Addresses {
		out[a.Type] = append(out[a.Type], a.Address)
	}
	return out
}

// nodeVM finds the VM named like the node (the CPI's node-to-VM contract).
func nodeVM(ctx context.Context, t *target.Target, name string) *object.VirtualMachine {
	GinkgoHelper()
	vm, err := t.VMByName(ctx, name)
	Expect(err).NotTo(HaveOccurred(), "node %s has no VM of the same name", name)
	return vm
}

// expectedInstanceType is the CPI's "vsphere-vm.cpu-<n>.mem-<GiB>gb.os-"
// prefix for the VM's size; the OS suffix comes from the guest ID.
func expectedInstanceType(info vmInfo) string {
	return fmt.Sprintf("vsphere-vm.cpu-%d.mem-%dgb.os-", info.CPUs, info.MemoryMB/1024)
}
