package csi

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gmeasure"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// costRounds is how many volume lifecycles are counted: the medians are
// what `report diff` compares between runs.
const costRounds = 3

// What one volume operation costs vCenter, counted by vCenter itself
// (capability callCounts). Nothing else the harness does talks to vCenter
// inside a counted window (the waits read Kubernetes only), so the counts
// are the driver's and the sidecars', plus whatever its periodic syncs
// happened to do then. A driver that creates or deletes a claim's volume
// twice is asserted against (a second create is a second disk); each
// operation must reach CNS; the rest is recorded, as measurements `report
// diff` compares. Serial: other specs' calls would count.
var _ = Describe("vCenter calls per volume operation", Serial, Label(labels.CSI, labels.Cost), func() {
	It("counts the calls of a claim's create, attach, detach and delete, one CNS create and one delete per claim", func(ctx SpecContext) {
		t := target.Current()
		t.Require(target.BlockVolumes, target.CallCounts)
		ns := t.CreateNamespace(ctx, "csi-cost").Name
		sc := t.CreateStorageClass(ctx, target.StorageClassForPolicy(requestedPolicy(t))).Name
		exp := gmeasure.NewExperiment("vCenter calls per volume operation")
		AddReportEntry(exp.Name, exp)

		for round := range costRounds {
			name := fmt.Sprintf("data-%d", round)
			count := func(op string, do func()) target.VCenterCalls {
				GinkgoHelper()
				before, err := t.VCenterCalls(ctx)
				Expect(err).NotTo(HaveOccurred())
				do()
				after, err := t.VCenterCalls(ctx)
				Expect(err).NotTo(HaveOccurred())
				// The reads go to the fault endpoint, not to vCenter's APIs:
				// they are not counted.
				cost := after.Since(before)
				exp.RecordValue(op, float64(cost.Total()), gmeasure.Units("calls"))
				exp.RecordValue(op+" (CNS)", float64(target.VCenterCalls{"cns": cost["cns"]}.Total()), gmeasure.Units("calls"))
				if round == costRounds-1 {
					AddReportEntry("vCenter calls of one "+op, cost.String())
				}
				return cost
			}

			var pv, handle string
			created := count("claim create", func() {
				claim := t.CreatePVC(ctx, ns, target.NewPVC(name, sc, "1Gi"))
				claim, err := t.WaitForPVCBound(ctx, ns, claim.Name)
				Expect(err).NotTo(HaveOccurred())
				pv = claim.Spec.VolumeName
				handle = volumeHandle(ctx, t, claim)
			})
			Expect(created["cns"]["CnsCreateVolume"]).To(BeEquivalentTo(1), "CNS creates for one claim:\n%s", created)

			var node string
			attached := count("attach", func() {
				pod := t.CreatePod(ctx, ns, target.NewPod("app-"+name, name))
				node = scheduledNode(ctx, t, ns, pod.Name)
				_, err := t.WaitForVolumeAttachment(ctx, pv, node, true)
				Expect(err).NotTo(HaveOccurred())
				waitNodeVolumeAttached(ctx, t, node, handle)
			})
			// The external-attacher may publish a VolumeAttachment twice (it
			// re-syncs it) and CNS attach to the same VM is idempotent: one
			// or two attach calls are the driver working; none is not.
			Expect(attached["cns"]["CnsAttachVolume"]).To(BeNumerically(">=", 1), "CNS attaches for one pod:\n%s", attached)

			detached := count("detach", func() {
				Expect(t.Kube.CoreV1().Pods(ns).Delete(ctx, "app-"+name, metav1.DeleteOptions{})).To(Succeed())
				Expect(t.WaitForPodDeleted(ctx, ns, "app-"+name)).To(Succeed())
				_, err := t.WaitForVolumeAttachment(ctx, pv, node, false)
				Expect(err).NotTo(HaveOccurred())
			})
			Expect(detached["cns"]["CnsDetachVolume"]).To(BeNumerically(">=", 1), "CNS detaches for one pod:\n%s", detached)

			deleted := count("claim delete", func() {
				Expect(t.Kube.CoreV1().PersistentVolumeClaims(ns).Delete(ctx, name, metav1.DeleteOptions{})).To(Succeed())
				Expect(t.WaitForPVDeleted(ctx, pv)).To(Succeed())
			})
			Expect(deleted["cns"]["CnsDeleteVolume"]).To(BeEquivalentTo(1), "CNS deletes for one claim:\n%s", deleted)
		}
		for _, op := range []string{"claim create", "attach", "detach", "claim delete"} {
			AddReportEntry("median vCenter calls per "+op, fmt.Sprint(exp.GetStats(op).ValueFor(gmeasure.StatMedian)))
		}
	}, SpecTimeout(8*time.Minute))
})
