package csi

import (
	"context"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

var _ = Describe("Data of a StatefulSet's replicas", Label(labels.CSI, labels.StatefulSet, labels.Data), func() {
	It("gives each replica back its own data after scale-in and scale-out", labels.Catches("detach-leaves-disk"), func(ctx SpecContext) {
		t := target.Current()
		t.Require(target.BlockVolumes, target.DataPath)
		ns := t.CreateNamespace(ctx, "csi-data-sts").Name
		sc := dataStorageClass(ctx, t, "", false)

		// Each replica writes its identity once (the first time its volume
		// is empty), then reports what the volume holds and runs on.
		script := "if [ ! -f /data/data/id ]; then echo \"$(hostname) $(date +%s%N)\" > /data/data/id; sync; echo wrote; else echo found; fi\n" +
			"echo \"id: $(cat /data/data/id)\"\nexec sleep 3600\n"
		sts := newStatefulSet("web", sc.Name, 2)
		data := t.NewDataPod("", "", script, target.DataVolume{Claim: "data"})
		data.Spec.Containers[0].Command = []string{"sh", "-c", script}
		data.Spec.RestartPolicy = corev1.RestartPolicyAlways
		data.Labels = sts.Spec.Template.Labels
		sts.Spec.Template.Spec = data.Spec
		t.CreateStatefulSet(ctx, ns, sts)

		By("each replica writing its identity on first start")
		first, nodes := map[string]string{}, map[string]string{}
		for _, pod := range []string{"web-0", "web-1"} {
			out := waitLog(ctx, t, ns, pod, "id: ")
			p, err := t.Kube.CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{})
			Expect(err).NotTo(HaveOccurred())
			nodes[pod] = p.Spec.NodeName
			Expect(out).To(ContainSubstring("wrote"), "replica %s found data on a new volume: %s", pod, out)
			first[pod] = idLine(out)
			Expect(first[pod]).To(HavePrefix(pod+" "), "replica %s wrote %q", pod, first[pod])
		}

		By("scaling in to 0, which detaches every replica's disk, and out to 2: each replica finds what it wrote")
		scale(ctx, t, ns, "web", 0)
		for _, pod := range []string{"web-0", "web-1"} {
			Expect(t.WaitForPodDeleted(ctx, ns, pod)).To(Succeed())
			_, pv, _ := boundVolume(ctx, t, ns, "data-"+pod)
			_, err := t.WaitForVolumeAttachment(ctx, pv.Name, nodes[pod], false)
			Expect(err).NotTo(HaveOccurred())
			vm, err := t.VMByName(ctx, nodes[pod])
			Expect(err).NotTo(HaveOccurred())
			Expect(attachedDiskIDs(ctx, t, vm)).NotTo(ContainElement(pv.Spec.CSI.VolumeHandle),
				"VM %s still has FCD %s after the detach of scaled-in replica %s", nodes[pod], pv.Spec.CSI.VolumeHandle, pod)
		}
		scale(ctx, t, ns, "web", 2)
		for _, pod := range []string{"web-0", "web-1"} {
			out := waitLog(ctx, t, ns, pod, "id: ")
			Expect(out).To(ContainSubstring("found"), "replica %s came back to an empty volume: %s", pod, out)
			Expect(idLine(out)).To(Equal(first[pod]), "replica %s reads another replica's or no data", pod)
		}
	}, SpecTimeout(8*time.Minute))
})

// waitLog waits until the pod's log contains marker and returns the log.
func waitLog(ctx SpecContext, t *target.Target, ns, pod, marker string) string {
	GinkgoHelper()
	var out string
	err := target.WaitFor(ctx, fmt.Sprintf("pod %s/%s to log %q", ns, pod, marker), target.Timeouts.PodRunning,
		func(ctx context.Context) (bool, string, error) {
			b, err := t.Kube.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{}).DoRaw(ctx)
			if err != nil {
				return false, err.Error(), nil
			}
			out = string(b)
			return strings.Contains(out, marker), "log so far: " + out, nil
		})
	Expect(err).NotTo(HaveOccurred())
	return out
}

func idLine(log string) string {
	for _, line := range strings.Split(log, "\n") {
		if v, ok := strings.CutPrefix(line, "id: "); ok {
			return v
		}
	}
	return ""
}
