package target

import (
	"context"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// TestSpecs runs the Ginkgo-facing helpers (cleanup tracking, Require,
// evidence) inside a real Ginkgo suite against a fake Kubernetes.
func TestSpecs(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "target helpers")
}

// fakeKube is a fake clientset whose namespaces get a "default" service
// account, as the service account controller would make.
func fakeKube() *fake.Clientset {
	kube := fake.NewClientset()
	kube.PrependReactor("create", "namespaces", func(action k8stesting.Action) (bool, runtime.Object, error) {
		ns := action.(k8stesting.CreateAction).GetObject().(*corev1.Namespace)
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns.Name}}
		return false, nil, kube.Tracker().Add(sa)
	})
	return kube
}

var _ = Describe("a spec's objects", Ordered, func() {
	var (
		kube    *fake.Clientset
		tg      *Target
		created struct{ ns, sc, pvc, pod string }
		skipped SpecReport
	)

	BeforeAll(func() {
		kube = fakeKube()
		tg = &Target{
			Config: &Config{Name: "fake", VCenter: VCenter{Password: "hunter2"}, Capabilities: Capabilities{BlockVolumes: true}},
			Kube:   kube,
		}
		Use(tg)
		DeferCleanup(func() { Use(nil) })
		SetRunID("run-1")
	})

	ReportAfterEach(func(r SpecReport) {
		if r.LeafNodeText == "are skipped when the target lacks a capability" {
			skipped = r
		}
	})

	It("are created with the run's labels", func(ctx SpecContext) {
		ns := tg.CreateNamespace(ctx, "csi-basic")
		Expect(ns.Name).To(MatchRegexp(`^csi-basic-[0-9a-f]{5}$`))
		Expect(ns.Labels).To(HaveKeyWithValue(LabelRun, "run-1"))
		Expect(ns.Labels).To(HaveKeyWithValue(LabelSpec, "true"))

		sc := tg.CreateStorageClass(ctx, StorageClassForPolicy("vsconform-gold"))
		Expect(sc.Name).To(MatchRegexp(`^vsconform-[0-9a-f]{5}$`))
		Expect(sc.Provisioner).To(Equal(CSIDriverName))
		Expect(sc.Parameters).To(HaveKeyWithValue("storagepolicyname", "vsconform-gold"))
		Expect(sc.Labels).To(HaveKeyWithValue(LabelRun, "run-1"))

		pvc := tg.CreatePVC(ctx, ns.Name, NewPVC("data", sc.Name, "1Gi"))
		Expect(*pvc.Spec.StorageClassName).To(Equal(sc.Name))

		pod := tg.CreatePod(ctx, ns.Name, NewPod("app", "data"))
		Expect(pod.Spec.Tolerations).To(ConsistOf(corev1.Toleration{Operator: corev1.TolerationOpExists}))
		Expect(pod.Spec.Volumes[0].PersistentVolumeClaim.ClaimName).To(Equal("data"))

		created.ns, created.sc, created.pvc, created.pod = ns.Name, sc.Name, pvc.Name, pod.Name
	})

	It("are all gone once the creating spec ends", func(ctx SpecContext) {
		Expect(created.ns).NotTo(BeEmpty())
		_, err := kube.CoreV1().Pods(created.ns).Get(ctx, created.pod, metav1.GetOptions{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "pod: %v", err)
		_, err = kube.CoreV1().PersistentVolumeClaims(created.ns).Get(ctx, created.pvc, metav1.GetOptions{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "PVC: %v", err)
		_, err = kube.StorageV1().StorageClasses().Get(ctx, created.sc, metav1.GetOptions{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "StorageClass: %v", err)
		_, err = kube.CoreV1().Namespaces().Get(ctx, created.ns, metav1.GetOptions{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "namespace: %v", err)
	})

	It("run tracked cleanups in reverse order", func() {
		var order []string
		DeferCleanup(func() { Expect(order).To(Equal([]string{"tag", "fcd"})) })
		tg.Track("fcd", func(ctx context.Context) error { order = append(order, "fcd"); return nil })
		tg.Track("tag", func(ctx context.Context) error { order = append(order, "tag"); return nil })
	})

	It("are skipped when the target lacks a capability", func() {
		Require(BlockVolumes, Snapshots)
		Fail("Require did not skip")
	})

	It("report why a spec was skipped", func() {
		Expect(skipped.State).To(Equal(types.SpecStateSkipped))
		Expect(skipped.Failure.Message).To(Equal("target fake does not declare capability snapshots"))
	})

	It("record evidence as report entries, with secrets scrubbed", func() {
		Evidence(EvidenceVCenter, "CNS volume 123", "logged in with hunter2")
		entries := CurrentSpecReport().ReportEntries
		Expect(entries).To(HaveLen(1))
		Expect(entries[0].Name).To(Equal("evidence:vcenter:CNS volume 123"))
		Expect(entries[0].StringRepresentation()).To(Equal("logged in with [redacted]"))
	})
})
