package target

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// DefaultDataImage runs data-checking pods when the config names none.
const DefaultDataImage = "busybox:1.36"

// Where data pods see their volumes: a filesystem claim is mounted at
// DataDir/<claim>, a raw block claim is the device DataDevDir/<claim>.
const (
	DataDir    = "/data"
	DataDevDir = "/dev/vsc"
)

// kwokNodeLabel marks the nodes kwok plays (the hermetic target's and the
// fake nodes specs add): pods "run" there without mounting anything, so data
// pods keep off them.
const kwokNodeLabel = "type"

// DataVolume is a claim a data pod uses: mounted, or as a raw block device.
type DataVolume struct {
	Claim string
	Block bool
}

// Path is where the pod sees the volume.
func (v DataVolume) Path() string {
	if v.Block {
		return DataDevDir + "/" + v.Claim
	}
	return DataDir + "/" + v.Claim
}

// NewDataPod returns a pod that runs script with sh in the data image and
// exits: its output (stdout and stderr, at most 4 KiB) becomes the
// container's termination message, which RunDataPod returns. The pod keeps
// off kwok nodes, and onNode pins it to one node ("" lets the scheduler
// choose among the real ones).
func (t *Target) NewDataPod(name, onNode, script string, vols ...DataVolume) *corev1.Pod {
	image := t.Config.DataImage
	if image == "" {
		image = DefaultDataImage
	}
	wrapped := "exec >/dev/termination-log 2>&1\nset -e\n" + script
	c := corev1.Container{
		Name:                     "data",
		Image:                    image,
		ImagePullPolicy:          corev1.PullIfNotPresent,
		Command:                  []string{"sh", "-c", wrapped},
		TerminationMessagePolicy: corev1.TerminationMessageReadFile,
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			TerminationGracePeriodSeconds: ptr.To[int64](1),
			Affinity:                      &corev1.Affinity{NodeAffinity: realNodeAffinity(onNode)},
		},
	}
	for _, v := range vols {
		pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: v.Claim, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: v.Claim}}})
		if v.Block {
			c.VolumeDevices = append(c.VolumeDevices, corev1.VolumeDevice{Name: v.Claim, DevicePath: v.Path()})
		} else {
			c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: v.Claim, MountPath: v.Path()})
		}
	}
	pod.Spec.Containers = []corev1.Container{c}
	return pod
}

func realNodeAffinity(onNode string) *corev1.NodeAffinity {
	term := corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{
		{Key: kwokNodeLabel, Operator: corev1.NodeSelectorOpNotIn, Values: []string{"kwok"}},
	}}
	if onNode != "" {
		term.MatchExpressions = append(term.MatchExpressions, corev1.NodeSelectorRequirement{
			Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: []string{onNode}})
	}
	return &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
		NodeSelectorTerms: []corev1.NodeSelectorTerm{term}}}
}

// DataResult is how a data pod ended.
type DataResult struct {
	Pod      *corev1.Pod
	Node     string
	ExitCode int32
	Output   string // the termination message
}

// RunDataPod creates the pod (registered for cleanup), waits until it has
// run to its end, and returns what it printed. A pod that exits non-zero is
// an error quoting its output.
func (t *Target) RunDataPod(ctx context.Context, ns string, pod *corev1.Pod) (DataResult, error) {
	ginkgo.GinkgoHelper()
	created := t.CreatePod(ctx, ns, pod)
	res, err := t.WaitForDataPod(ctx, ns, created.Name)
	if err == nil && res.ExitCode != 0 {
		err = fmt.Errorf("data pod %s/%s on node %s exited %d: %s", ns, created.Name, res.Node, res.ExitCode, strings.TrimSpace(res.Output))
	}
	return res, err
}

// WaitForDataPod waits until a data pod's container has terminated.
func (t *Target) WaitForDataPod(ctx context.Context, ns, name string) (DataResult, error) {
	var res DataResult
	what := fmt.Sprintf("data pod %s/%s to run to its end", ns, name)
	err := WaitFor(ctx, what, Timeouts.PodRunning, func(ctx context.Context) (bool, string, error) {
		p, err := t.Kube.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, getState("pod", err), nil
		}
		res.Pod, res.Node = p, p.Spec.NodeName
		for _, cs := range p.Status.ContainerStatuses {
			if term := cs.State.Terminated; term != nil {
				res.ExitCode, res.Output = term.ExitCode, term.Message
				return true, "", nil
			}
		}
		return false, podState(p) + t.lastEvent(ctx, ns, "Pod", name), nil
	})
	return res, err
}

// DeletePod deletes a pod and waits until it is gone (its volumes unmounted,
// so they can detach).
func (t *Target) DeletePod(ctx context.Context, ns, name string) error {
	if err := t.Kube.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		return err
	}
	return t.WaitForPodDeleted(ctx, ns, name)
}

// Payload is data a spec writes and expects back: its content is unique to
// the spec run, and its SHA-256 is what a reading pod must print.
type Payload struct {
	Content string
	SHA256  string
}

// NewPayload makes a payload of exactly size bytes (at least 2) from a seed
// (e.g. the spec's namespace), so two specs or two writes never hold the
// same bytes. It is lines of text ending in a newline, so a shell heredoc
// writes it unchanged.
func NewPayload(seed string, size int) Payload {
	size = max(size, 2)
	var b strings.Builder
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "%s line %06d %d\n", seed, i, time.Now().UnixNano())
	}
	content := b.String()[:size-1] + "\n"
	sum := sha256.Sum256([]byte(content))
	return Payload{Content: content, SHA256: hex.EncodeToString(sum[:])}
}

// WriteScript writes the payload to path (through a heredoc, so no quoting
// of the content is needed), syncs it to the disk, and prints its checksum.
func (p Payload) WriteScript(path string) string {
	return fmt.Sprintf("cat > %s <<'VSCONFORM_EOF'\n%sVSCONFORM_EOF\nsync\nsha256sum %s\n", path, p.Content, path)
}

// ReadScript prints the checksum of path and its first line, so a mismatch
// can say which bytes were found.
func ReadScript(path string) string {
	return fmt.Sprintf("sha256sum %s\necho \"first line: $(head -n 1 %s)\"\n", path, path)
}

// FirstLine is what a ReadScript printed as the file's first line.
func FirstLine(output string) string {
	for _, line := range strings.Split(output, "\n") {
		if v, ok := strings.CutPrefix(line, "first line: "); ok {
			return v
		}
	}
	return ""
}

// FirstLine is the payload's first line, to compare with what was read.
func (p Payload) FirstLine() string {
	line, _, _ := strings.Cut(p.Content, "\n")
	return line
}

// ChecksumIn finds path's checksum in a pod's output (sha256sum's "HASH  PATH").
func ChecksumIn(output, path string) string {
	for _, line := range strings.Split(output, "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[1] == path {
			return f[0]
		}
	}
	return ""
}

// CheckPayload says whether a ReadScript's output shows the payload's bytes
// at path; the error names what was found, and where.
func (r DataResult) CheckPayload(path string, want Payload, what string) error {
	got := ChecksumIn(r.Output, path)
	if got == want.SHA256 {
		return nil
	}
	return fmt.Errorf("%s: %s on node %s has SHA-256 %q, want %q; first line found %q, expected %q (pod output: %s)",
		what, path, r.Node, got, want.SHA256, FirstLine(r.Output), want.FirstLine(), strings.TrimSpace(r.Output))
}

// DataNodes are the nodes a data pod may run on (those kwok does not play).
func (t *Target) DataNodes(ctx context.Context) ([]corev1.Node, error) {
	list, err := t.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: kwokNodeLabel + "!=kwok"})
	if err != nil {
		return nil, err
	}
	return list.Items, nil
}
