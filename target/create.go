package target

import (
	"context"
	"fmt"

	"github.com/onsi/ginkgo/v2"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// CSIDriverName is the vSphere CSI driver's name (StorageClass provisioner).
const CSIDriverName = "csi.vsphere.vmware.com"

// PodImage runs in the pods specs create; it only has to start and stop.
var PodImage = "registry.k8s.io/pause:3.10"

// NewStorageClass returns a vSphere CSI StorageClass with reclaim policy
// Delete and Immediate binding; base becomes the name's prefix.
func NewStorageClass(base string, params map[string]string) *storagev1.StorageClass {
	return &storagev1.StorageClass{
		ObjectMeta:        metav1.ObjectMeta{Name: base},
		Provisioner:       CSIDriverName,
		Parameters:        params,
		ReclaimPolicy:     ptr.To(corev1.PersistentVolumeReclaimDelete),
		VolumeBindingMode: ptr.To(storagev1.VolumeBindingImmediate),
	}
}

// StorageClassForPolicy returns NewStorageClass for an SPBM policy name.
func StorageClassForPolicy(policy string) *storagev1.StorageClass {
	return NewStorageClass("vsconform", map[string]string{"storagepolicyname": policy})
}

// CreateStorageClass creates sc under the name sc.Name-<random> (a
// StorageClass is cluster-scoped, so parallel specs must not collide),
// labelled for this run, and registers its deletion.
func (t *Target) CreateStorageClass(ctx context.Context, sc *storagev1.StorageClass) *storagev1.StorageClass {
	ginkgo.GinkgoHelper()
	var created *storagev1.StorageClass
	err := t.createUnique(sc.Name, func(name string) error {
		obj := sc.DeepCopy()
		obj.Name = name
		obj.Labels = withSpecLabels(obj.Labels)
		var err error
		created, err = t.Kube.StorageV1().StorageClasses().Create(ctx, obj, metav1.CreateOptions{})
		return err
	})
	if err != nil {
		ginkgo.Fail(fmt.Sprintf("create StorageClass %s-*: %v", sc.Name, err))
	}
	name := created.Name
	t.Track("StorageClass "+name, func(ctx context.Context) error {
		err := t.Kube.StorageV1().StorageClasses().Delete(ctx, name, metav1.DeleteOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	})
	return created
}

// NewPVC returns a claim for size (e.g. "1Gi") from storageClass;
// ReadWriteOnce unless modes are given.
func NewPVC(name, storageClass, size string, modes ...corev1.PersistentVolumeAccessMode) *corev1.PersistentVolumeClaim {
	if len(modes) == 0 {
		modes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}
	}
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeClaimSpec{
			StorageClassName: ptr.To(storageClass),
			AccessModes:      modes,
			Resources: corev1.VolumeResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)},
			},
		},
	}
}

// CreatePVC creates the claim in ns and registers its deletion, which
// waits until the claim is gone and, for a Delete reclaim policy, until its
// PV is gone too: that is when the driver has deleted the volume, so no
// spec leaves a CNS volume behind for the next one. On spec failure the
// claim, its PV and its CNS volume are recorded as evidence.
func (t *Target) CreatePVC(ctx context.Context, ns string, pvc *corev1.PersistentVolumeClaim) *corev1.PersistentVolumeClaim {
	ginkgo.GinkgoHelper()
	obj := pvc.DeepCopy()
	obj.Labels = withSpecLabels(obj.Labels)
	created, err := t.Kube.CoreV1().PersistentVolumeClaims(ns).Create(ctx, obj, metav1.CreateOptions{})
	if err != nil {
		ginkgo.Fail(fmt.Sprintf("create PVC %s/%s: %v", ns, pvc.Name, err))
	}
	name := created.Name
	t.Track(fmt.Sprintf("PVC %s/%s", ns, name), func(ctx context.Context) error {
		return t.deletePVC(ctx, ns, name)
	})
	t.recordPVCOnFailure(ns, name)
	return created
}

// deletePVC deletes a claim and waits for it and its volume to go.
func (t *Target) deletePVC(ctx context.Context, ns, name string) error {
	pvc, err := t.Kube.CoreV1().PersistentVolumeClaims(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	pvName := pvc.Spec.VolumeName
	err = t.Kube.CoreV1().PersistentVolumeClaims(ns).Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if err := t.WaitForPVCDeleted(ctx, ns, name); err != nil {
		return err
	}
	if pvName == "" {
		return nil
	}
	pv, err := t.Kube.CoreV1().PersistentVolumes().Get(ctx, pvName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete {
		// A retained volume outlives its PV by design; the spec that chose
		// Retain tracks the CNS volume itself. Only the PV object goes here.
		err := t.Kube.CoreV1().PersistentVolumes().Delete(ctx, pvName, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return t.WaitForPVDeleted(ctx, pvName)
}

// NewPod returns a pod that mounts each claim at /mnt/<claim>. It
// tolerates every taint, so it schedules on kwok's fake nodes too.
func NewPod(name string, claims ...string) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			Containers:                    []corev1.Container{{Name: "pause", Image: PodImage}},
			Tolerations:                   []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			TerminationGracePeriodSeconds: ptr.To[int64](1),
		},
	}
	for _, claim := range claims {
		pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{
			Name: claim,
			VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim},
			},
		})
		pod.Spec.Containers[0].VolumeMounts = append(pod.Spec.Containers[0].VolumeMounts,
			corev1.VolumeMount{Name: claim, MountPath: "/mnt/" + claim})
	}
	return pod
}

// CreatePod creates the pod in ns (adding a tolerate-everything toleration
// if it has none) and registers its deletion, which waits until the pod is
// gone so its volumes can detach before the claims are deleted.
func (t *Target) CreatePod(ctx context.Context, ns string, pod *corev1.Pod) *corev1.Pod {
	ginkgo.GinkgoHelper()
	obj := pod.DeepCopy()
	obj.Labels = withSpecLabels(obj.Labels)
	if !toleratesAll(obj.Spec.Tolerations) {
		obj.Spec.Tolerations = append(obj.Spec.Tolerations, corev1.Toleration{Operator: corev1.TolerationOpExists})
	}
	created, err := t.Kube.CoreV1().Pods(ns).Create(ctx, obj, metav1.CreateOptions{})
	if err != nil {
		ginkgo.Fail(fmt.Sprintf("create pod %s/%s: %v", ns, pod.Name, err))
	}
	name := created.Name
	t.Track(fmt.Sprintf("pod %s/%s", ns, name), func(ctx context.Context) error {
		err := t.Kube.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		return t.WaitForPodDeleted(ctx, ns, name)
	})
	t.EvidenceOnFailure(EvidenceKubernetes, fmt.Sprintf("pod %s/%s", ns, name), func(ctx context.Context) string {
		return t.DescribePod(ctx, ns, name)
	})
	return created
}

func toleratesAll(tols []corev1.Toleration) bool {
	for _, tol := range tols {
		if tol.Operator == corev1.TolerationOpExists && tol.Key == "" && tol.Effect == "" {
			return true
		}
	}
	return false
}
