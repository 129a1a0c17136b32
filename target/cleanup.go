package target

import (
	"context"
	"fmt"
	"time"

	"github.com/onsi/ginkgo/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CleanupTimeout bounds each registered cleanup, so a stuck delete fails
// the spec with what it waited for instead of hanging the run.
var CleanupTimeout = 10 * time.Minute

// DefectCleanupTimeout bounds each cleanup of a failed spec on a target
// running a defect profile (a negative control): the defect can make the
// cleanup impossible (a detach that leaves the disk keeps the volume from
// being deleted), the leak check still reports what is left, and the
// hermetic target is torn down after the run.
var DefectCleanupTimeout = 60 * time.Second

var defectProfile string

// SetDefectProfile records the defect profile the target runs ("" for
// none), as sim up --defect started it.
func SetDefectProfile(name string) { defectProfile = name }

// Track registers fn to undo something the spec made (an FCD, a tag, a
// policy, ...). It runs when the spec ends, pass or fail, in reverse order
// of registration (DESIGN rule 4); its error fails the spec, since a failed
// cleanup is a leak. Call it right after the create succeeds.
func (t *Target) Track(desc string, fn func(ctx context.Context) error) {
	ginkgo.GinkgoHelper()
	ginkgo.DeferCleanup(func(ctx ginkgo.SpecContext) error {
		ginkgo.GinkgoWriter.Printf("cleanup: %s\n", desc)
		var fctx context.Context = ctx
		if defectProfile != "" && ginkgo.CurrentSpecReport().Failed() {
			var cancel context.CancelFunc
			fctx, cancel = context.WithTimeout(ctx, DefectCleanupTimeout)
			defer cancel()
		}
		if err := fn(fctx); err != nil {
			return fmt.Errorf("cleanup of %s: %w", desc, err)
		}
		return nil
	}, ginkgo.NodeTimeout(CleanupTimeout))
}

// CreateNamespace creates a namespace named prefix-<random>, labelled for
// this run, and registers its deletion (waiting until it is gone). It
// fails the spec if the namespace cannot be made.
func (t *Target) CreateNamespace(ctx context.Context, prefix string) *corev1.Namespace {
	ginkgo.GinkgoHelper()
	var created *corev1.Namespace
	err := t.createUnique(prefix, func(name string) error {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: specLabels()}}
		var err error
		created, err = t.Kube.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
		return err
	})
	if err != nil {
		ginkgo.Fail(fmt.Sprintf("create namespace %s-*: %v", prefix, err))
	}
	name := created.Name
	t.Track("namespace "+name, func(ctx context.Context) error {
		err := t.Kube.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		return t.WaitForNamespaceGone(ctx, name)
	})
	// Pods are refused until the service account controller has made the
	// namespace's "default" account.
	err = WaitFor(ctx, "service account default in namespace "+name, Timeouts.PodRunning, func(ctx context.Context) (bool, string, error) {
		_, err := t.Kube.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
		if err != nil {
			return false, getState("service account", err), nil
		}
		return true, "", nil
	})
	if err != nil {
		ginkgo.Fail(err.Error())
	}
	return created
}

// createUnique calls create with prefix-<random> names until one is free.
func (t *Target) createUnique(prefix string, create func(name string) error) error {
	const attempts = 3
	var err error
	for range attempts {
		if err = create(uniqueName(prefix)); !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	return err
}

// uniqueName is prefix-<5 random chars>, trimmed to a valid DNS label.
func uniqueName(prefix string) string {
	if prefix == "" {
		prefix = "vsconform"
	}
	const maxPrefix = 63 - 6
	if len(prefix) > maxPrefix {
		prefix = prefix[:maxPrefix]
	}
	return prefix + "-" + randomSuffix(5)
}

// withSpecLabels adds the run labels to an object's labels.
func withSpecLabels(labels map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range labels {
		out[k] = v
	}
	for k, v := range specLabels() {
		out[k] = v
	}
	return out
}
