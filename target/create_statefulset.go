package target

import (
	"context"
	"fmt"
	"strings"

	"github.com/onsi/ginkgo/v2"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CreateStatefulSet creates the StatefulSet in ns (pods tolerate every
// taint) and registers its cleanup: the StatefulSet, its pods, then the
// claims made from its volumeClaimTemplates and their volumes, waiting
// for each, since a StatefulSet never deletes its claims itself.
func (t *Target) CreateStatefulSet(ctx context.Context, ns string, sts *appsv1.StatefulSet) *appsv1.StatefulSet {
	ginkgo.GinkgoHelper()
	obj := sts.DeepCopy()
	obj.Labels = withSpecLabels(obj.Labels)
	if !toleratesAll(obj.Spec.Template.Spec.Tolerations) {
		obj.Spec.Template.Spec.Tolerations = append(obj.Spec.Template.Spec.Tolerations, corev1.Toleration{Operator: corev1.TolerationOpExists})
	}
	created, err := t.Kube.AppsV1().StatefulSets(ns).Create(ctx, obj, metav1.CreateOptions{})
	if err != nil {
		ginkgo.Fail(fmt.Sprintf("create StatefulSet %s/%s: %v", ns, sts.Name, err))
	}
	name := created.Name
	var prefixes []string
	for _, tpl := range created.Spec.VolumeClaimTemplates {
		prefixes = append(prefixes, tpl.Name+"-"+name+"-")
	}
	selector := metav1.FormatLabelSelector(created.Spec.Selector)
	t.Track(fmt.Sprintf("StatefulSet %s/%s and its claims", ns, name), func(ctx context.Context) error {
		err := t.Kube.AppsV1().StatefulSets(ns).Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		pods, err := t.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return err
		}
		for _, p := range pods.Items {
			err := t.Kube.CoreV1().Pods(ns).Delete(ctx, p.Name, metav1.DeleteOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				return err
			}
			if err := t.WaitForPodDeleted(ctx, ns, p.Name); err != nil {
				return err
			}
		}
		claims, err := t.Kube.CoreV1().PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, c := range claims.Items {
			for _, p := range prefixes {
				if strings.HasPrefix(c.Name, p) {
					if err := t.deletePVC(ctx, ns, c.Name); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
	return created
}
