package csi

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gmeasure"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// podsWithVolumes is how many pods, each with a claim of its own, the
// startup-latency spec starts at once (ClusterLoader2's storage test runs one
// PV per pod too).
const podsWithVolumes = 5

var _ = Describe("Startup of pods with volumes", Label(labels.CSI, labels.Provisioning, labels.Data), func() {
	It("measures claim created -> pod Ready with its volume mounted (ClusterLoader2 PodWithVolumesStartupLatency)", func(ctx SpecContext) {
		t := target.Current()
		t.Require(target.BlockVolumes, target.DataPath)
		ns := t.CreateNamespace(ctx, "csi-data-startup").Name
		sc := dataStorageClass(ctx, t, "", false)
		exp := gmeasure.NewExperiment(fmt.Sprintf("pod with volume startup (%d pods at once)", podsWithVolumes))
		AddReportEntry(exp.Name, exp)

		By(fmt.Sprintf("creating %d claims and their pods at once", podsWithVolumes))
		started := map[string]time.Time{}
		for i := range podsWithVolumes {
			name := fmt.Sprintf("app-%d", i)
			started[name] = time.Now()
			claim := t.CreatePVC(ctx, ns, target.NewPVC(name, sc.Name, "64Mi"))
			vol := target.DataVolume{Claim: claim.Name}
			// Ready only once the volume is mounted and writable.
			pod := t.NewDataPod(name, "", "touch "+vol.Path()+"/ready\nexec sleep 3600\n", vol)
			pod.Spec.Containers[0].ReadinessProbe = &corev1.Probe{
				ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"test", "-f", vol.Path() + "/ready"}}},
				PeriodSeconds: 1,
			}
			t.CreatePod(ctx, ns, pod)
		}
		ready := map[string]bool{}
		err := target.WaitFor(ctx, fmt.Sprintf("%d pods with volumes to be Ready", podsWithVolumes), target.Timeouts.PodRunning,
			func(ctx context.Context) (bool, string, error) {
				list, err := t.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
				if err != nil {
					return false, err.Error(), nil
				}
				now := time.Now()
				state := ""
				for _, p := range list.Items {
					if ready[p.Name] {
						continue
					}
					if podReady(&p) {
						ready[p.Name] = true
						exp.RecordDuration("claim created to pod Ready", now.Sub(started[p.Name]))
						continue
					}
					state = p.Name + ": " + string(p.Status.Phase)
				}
				return len(ready) == podsWithVolumes, fmt.Sprintf("%d of %d Ready; %s", len(ready), podsWithVolumes, state), nil
			})
		Expect(err).NotTo(HaveOccurred())
		stats := exp.GetStats("claim created to pod Ready")
		AddReportEntry("pod with volume startup median", stats.DurationFor(gmeasure.StatMedian).String())
	}, SpecTimeout(6*time.Minute))
})

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
