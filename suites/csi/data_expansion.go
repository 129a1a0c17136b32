package csi

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

var _ = Describe("Data on an expanded block volume", Label(labels.CSI, labels.Expansion, labels.Data), func() {
	var (
		t      *target.Target
		ns     string
		fsType string
	)

	BeforeEach(func(ctx SpecContext) {
		t = target.Current()
		t.Require(target.BlockVolumes, target.DataPath)
		ns = t.CreateNamespace(ctx, "csi-data-expand").Name
		// The filesystem is grown by the kubelet once mounted, after an
		// offline expansion too: a filesystem the nodes can grow mounted.
		fsType = t.Config.Capabilities.GrowableFSType()
	})

	It("offline: a detached volume grown to 2Gi mounts again with a bigger filesystem and the same data, and the claim reaches 2Gi", labels.Catches("extend-cns-only"), func(ctx SpecContext) {
		t.Require(target.OfflineExpansion)
		sc := dataStorageClass(ctx, t, fsType, true)
		claim := t.CreatePVC(ctx, ns, target.NewPVC("data", sc.Name, "1Gi"))
		vol := target.DataVolume{Claim: claim.Name}
		file := vol.Path() + "/payload"
		want := target.NewPayload(ns, 16<<10)

		By("writing a file on a " + fsType + " filesystem of 1Gi")
		wrote := runData(ctx, t, ns, "writer", "", want.WriteScript(file)+fsSizeScript(vol.Path()), vol)
		before := fsSize(wrote.Output)
		Expect(before).To(BeNumerically(">", 0), "no filesystem size in %s", wrote.Output)
		Expect(before).To(BeNumerically("<=", int64(1<<30)))
		_, pv, _ := boundVolume(ctx, t, ns, claim.Name)
		Expect(t.DeletePod(ctx, ns, "writer")).To(Succeed())
		_, err := t.WaitForVolumeAttachment(ctx, pv.Name, wrote.Node, false)
		Expect(err).NotTo(HaveOccurred())

		By("growing the detached claim to 2Gi")
		resize(ctx, t, ns, claim.Name, "2Gi")
		Eventually(func(ctx SpecContext) (string, error) {
			got, err := t.Kube.CoreV1().PersistentVolumes().Get(ctx, pv.Name, metav1.GetOptions{})
			if err != nil {
				return "", err
			}
			q := got.Spec.Capacity[corev1.ResourceStorage]
			return q.String(), nil
		}).WithContext(ctx).WithTimeout(2*time.Minute).Should(Equal("2Gi"), "PV %s capacity", pv.Name)

		By("mounting it again: the filesystem is bigger and holds the same file")
		read := runData(ctx, t, ns, "reader", "", target.ReadScript(file)+fsSizeScript(vol.Path()), vol)
		expectPayload(read, file, want, "after the offline expansion")
		Expect(fsSize(read.Output)).To(BeNumerically(">", before+(900<<20)),
			"filesystem size in the pod after growing to 2Gi: %d bytes, before %d (%s)", fsSize(read.Output), before, read.Output)
		expectClaimGrown(ctx, t, ns, claim.Name, "2Gi")
	}, SpecTimeout(6*time.Minute))

	It("online: a volume grown to 2Gi while its pod writes to it shows the bigger filesystem in that pod and keeps the data", func(ctx SpecContext) {
		t.Require(target.OnlineExpansion)
		sc := dataStorageClass(ctx, t, fsType, true)
		claim := t.CreatePVC(ctx, ns, target.NewPVC("data", sc.Name, "1Gi"))
		vol := target.DataVolume{Claim: claim.Name}
		file := vol.Path() + "/payload"
		want := target.NewPayload(ns, 16<<10)

		// The pod writes, then waits (bounded) until its mounted filesystem
		// has grown past 1.5 GiB, and reports what it saw.
		script := want.WriteScript(file) + fmt.Sprintf("i=0\n"+
			"while [ $(df -k %[1]s | tail -n 1 | awk '{print $2}') -lt %[2]d ] && [ $i -lt 240 ]; do sleep 1; i=$((i+1)); done\n",
			vol.Path(), 1536*1024) + fsSizeScript(vol.Path()) + target.ReadScript(file)
		pod := t.CreatePod(ctx, ns, t.NewDataPod("app", "", script, vol))
		running, err := t.WaitForPodRunning(ctx, ns, pod.Name)
		Expect(err).NotTo(HaveOccurred())
		_, pv, _ := boundVolume(ctx, t, ns, claim.Name)
		expectAttached(ctx, t, pv, running.Spec.NodeName)

		By("growing the claim to 2Gi while the pod runs")
		resize(ctx, t, ns, claim.Name, "2Gi")
		res, err := t.WaitForDataPod(ctx, ns, pod.Name)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.ExitCode).To(BeZero(), "pod output: %s", res.Output)
		Expect(fsSize(res.Output)).To(BeNumerically(">", int64(1536)<<20),
			"the mounted filesystem in pod %s did not grow within 4 minutes (%s)", pod.Name, res.Output)
		expectPayload(res, file, want, "after the online expansion")
		expectClaimGrown(ctx, t, ns, claim.Name, "2Gi")
	}, SpecTimeout(7*time.Minute))
})

// expectClaimGrown waits until the claim's status capacity is size and no
// resize condition is left (the kubelet finished FileSystemResizePending).
func expectClaimGrown(ctx SpecContext, t *target.Target, ns, name, size string) {
	GinkgoHelper()
	Eventually(func(g Gomega, ctx SpecContext) {
		c, err := t.Kube.CoreV1().PersistentVolumeClaims(ns).Get(ctx, name, metav1.GetOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		q := c.Status.Capacity[corev1.ResourceStorage]
		g.Expect(q.String()).To(Equal(size), "claim %s/%s status capacity", ns, name)
		g.Expect(claimConditions(c)).To(BeEmpty(), "claim %s/%s conditions", ns, name)
	}).WithContext(ctx).WithTimeout(2 * time.Minute).Should(Succeed())
}
