package csi

import (
	"context"
	"fmt"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// Non-graceful node shutdown (Kubernetes NodeOutOfServiceVolumeDetach, GA
// in 1.28): a pod on a node whose VM died stays Terminating and holds its
// volume until an operator taints the node out-of-service; then pod GC
// force-deletes the pod and the attach-detach controller detaches the
// volume without waiting for an unmount that will never come. Serial: the
// spec's node, powered off, is visible to every spec that lists nodes.
var _ = Describe("A block volume on a node taken out of service", Serial, Label(labels.CSI, labels.Nodes), func() {
	var (
		t  *target.Target
		ns string
	)

	BeforeEach(func(ctx SpecContext) {
		t = target.Current()
		t.Require(target.BlockVolumes, target.FakeNodes)
		ns = t.CreateNamespace(ctx, "csi-out-of-service").Name
	})

	It("is detached from the powered-off VM once its node is tainted out-of-service, and attaches on another node", labels.Catches("detach-leaves-disk", "poweroff-does-nothing"), func(ctx SpecContext) {
		neighbour, terms := csiNeighbourNode(ctx, t)
		sc := target.StorageClassForPolicy(requestedPolicy(t))
		sc.AllowedTopologies = terms // the spec's node and the neighbour can both attach it
		sc = t.CreateStorageClass(ctx, sc)
		// The claim before the node: its cleanup then runs after the node's.
		claim := t.CreatePVC(ctx, ns, target.NewPVC("data", sc.Name, "1Gi"))
		_, pv, _ := boundVolume(ctx, t, ns, claim.Name)
		id := pv.Spec.CSI.VolumeHandle

		By("starting a pod with the claim on a node of the spec's own VM")
		fake := createCSIFakeNode(ctx, t, neighbour, "vsconform-oos", "198.51.100.242", terms)
		pod := createEvictablePod(ctx, t, ns, pinnedPod("app", fake.node, claim.Name))
		Expect(scheduledNode(ctx, t, ns, pod.Name)).To(Equal(fake.name))
		expectAttached(ctx, t, pv, fake.name)
		_, err := t.WaitForPodRunning(ctx, ns, pod.Name)
		Expect(err).NotTo(HaveOccurred())

		By("powering the VM off with its kubelet: the node goes NotReady")
		Expect(powerOff(ctx, fake.vm)).To(BeTrue(), "vCenter still reports VM %s powered on", fake.name)
		Expect(t.StopFakeKubelet(ctx, fake.name)).To(Succeed())
		waitNode(ctx, t, fake.name, "to be NotReady", func(n *corev1.Node) (bool, string) { return !isNodeReady(n), readyState(n) })

		By("tainting the node " + outOfServiceTaint.ToString())
		taintNode(ctx, t, fake.name, outOfServiceTaint)

		By("Kubernetes deleting the pod and the VolumeAttachment")
		Expect(t.WaitForPodDeleted(ctx, ns, pod.Name)).To(Succeed(), "the pod of out-of-service node %s", fake.name)
		_, err = t.WaitForVolumeAttachment(ctx, pv.Name, fake.name, false)
		Expect(err).NotTo(HaveOccurred())
		Eventually(func(ctx SpecContext) ([]string, error) {
			disks, err := t.AttachedDisks(ctx, fake.vm)
			return target.DiskIDs(disks), err
		}).WithContext(ctx).WithTimeout(time.Minute).ShouldNot(ContainElement(id),
			"VM %s still has FCD %s after the detach of an out-of-service node", fake.name, id)

		By("starting a pod with the claim on node " + neighbour.Name + ": its VM gets the disk")
		runPinnedPod(ctx, t, ns, "app-moved", claim.Name, pv, neighbour)
	}, SpecTimeout(10*time.Minute))
})

// outOfServiceTaint is what an operator sets on a node that is shut down
// for good (Kubernetes: non-graceful node shutdown).
var outOfServiceTaint = corev1.Taint{Key: corev1.TaintNodeOutOfService, Value: "nodeshutdown", Effect: corev1.TaintEffectNoExecute}

// createEvictablePod creates the pod as it is, not tolerating every taint
// as target.CreatePod makes pods do: it tolerates a NotReady node for good,
// so only the out-of-service taint evicts it. Its deletion (forced: its node
// may be dead) is registered.
func createEvictablePod(ctx SpecContext, t *target.Target, ns string, pod *corev1.Pod) *corev1.Pod {
	GinkgoHelper()
	obj := pod.DeepCopy()
	obj.Spec.Tolerations = []corev1.Toleration{
		{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
		{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
	}
	created, err := t.Kube.CoreV1().Pods(ns).Create(ctx, obj, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred(), "create pod %s/%s", ns, pod.Name)
	forceDeleteOnCleanup(t, ns, created.Name)
	t.EvidenceOnFailure(target.EvidenceKubernetes, fmt.Sprintf("pod %s/%s", ns, created.Name), func(ctx context.Context) string {
		return t.DescribePod(ctx, ns, created.Name)
	})
	return created
}

// taintNode adds a taint to the node and registers its removal.
func taintNode(ctx SpecContext, t *target.Target, name string, taint corev1.Taint) {
	GinkgoHelper()
	set := func(ctx context.Context, add bool) error {
		// Controllers change the node's taints too: retry on conflict.
		return retry.RetryOnConflict(retry.DefaultRetry, func() error {
			n, err := t.Kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			n.Spec.Taints = slices.DeleteFunc(n.Spec.Taints, func(tn corev1.Taint) bool { return tn.MatchTaint(&taint) })
			if add {
				n.Spec.Taints = append(n.Spec.Taints, taint)
			}
			_, err = t.Kube.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
			return err
		})
	}
	Expect(set(ctx, true)).To(Succeed(), "taint node %s %s", name, taint.ToString())
	t.Track("untaint node "+name, func(ctx context.Context) error {
		err := set(ctx, false)
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	})
}
