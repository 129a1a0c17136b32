package cpi

import (
	"context"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"

	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// initTimeout bounds how long the CPI may take to initialise a new node.
const initTimeout = 2 * time.Minute

// fakeNodeName is a fresh name for a VM and its node.
func fakeNodeName() string { return "vsconform-" + rand.String(6) }

// guestIP is a TEST-NET-2 (RFC 5737) address: plain data, never reached.
func guestIP(i int) string { return fmt.Sprintf("198.51.100.%d", 1+i%250) }

// createFakeNode creates a VM in folder/pool and registers a node for it;
// both are cleaned up when the spec ends.
func createFakeNode(ctx context.Context, t *target.Target, name, ip string, folder *object.Folder, pool *object.ResourcePool) string {
	GinkgoHelper()
	_, uuid := t.CreateNodeVM(ctx, target.NodeVMSpec{Name: name, IP: ip, Folder: folder, Pool: pool})
	t.RegisterFakeNode(ctx, name, uuid, nil)
	return uuid
}

// waitInitialised waits until the CPI has initialised the node: the
// uninitialized taint removed and a vsphere:// providerID set (the CPI
// does both in one update, so one without the other is a broken node).
func waitInitialised(ctx context.Context, t *target.Target, name string) *corev1.Node {
	GinkgoHelper()
	var node *corev1.Node
	err := target.WaitFor(ctx, "the CPI to initialise node "+name, initTimeout, func(ctx context.Context) (bool, string, error) {
		n, err := t.Kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		node = n
		tainted := hasTaint(*n, target.TaintUninitialized)
		if tainted || !strings.HasPrefix(n.Spec.ProviderID, providerPrefix) {
			return false, fmt.Sprintf("providerID %q, uninitialized taint %v", n.Spec.ProviderID, tainted), nil
		}
		return true, "", nil
	})
	Expect(err).NotTo(HaveOccurred())
	return node
}

// vmFolderAndClusterPool are the VM folder of the datacenter and the root
// resource pool of a cluster, where specs put their VMs.
func vmFolder(ctx context.Context, t *target.Target) *object.Folder {
	GinkgoHelper()
	folders, err := t.Datacenter.Folders(ctx)
	Expect(err).NotTo(HaveOccurred())
	return folders.VmFolder
}

func clusterPool(ctx context.Context, cluster *object.ClusterComputeResource) *object.ResourcePool {
	GinkgoHelper()
	pool, err := cluster.ResourcePool(ctx)
	Expect(err).NotTo(HaveOccurred())
	return pool
}

// createResourcePool makes a child pool and registers its destruction.
func createResourcePool(ctx context.Context, t *target.Target, parent *object.ResourcePool, name string) *object.ResourcePool {
	GinkgoHelper()
	pool, err := parent.Create(ctx, name, types.DefaultResourceConfigSpec())
	Expect(err).NotTo(HaveOccurred(), "create resource pool %s", name)
	t.Track("resource pool "+name, func(ctx context.Context) error {
		task, err := pool.Destroy(ctx)
		if err != nil {
			return err
		}
		return task.Wait(ctx)
	})
	return pool
}

// createFolder makes a child VM folder and registers its destruction.
func createFolder(ctx context.Context, t *target.Target, parent *object.Folder, name string) *object.Folder {
	GinkgoHelper()
	f, err := parent.CreateFolder(ctx, name)
	Expect(err).NotTo(HaveOccurred(), "create folder %s", name)
	t.Track("folder "+name, func(ctx context.Context) error {
		task, err := f.Destroy(ctx)
		if err != nil {
			return err
		}
		return task.Wait(ctx)
	})
	return f
}
