package target

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
)

// The fake kubelet of a node is kwok (capability fakeNodes). kwok v0.7.0
// filters its node watch by annotation on the client side, so an update
// that removes the annotation never reaches it and it keeps renewing the
// node's Lease. kwok shares nodes between instances through that Lease: a
// Lease held, unexpired, by another identity makes the node read-only to
// it. Stopping a kubelet is therefore both: the annotation goes (no status
// updates) and the Lease passes to a holder that never renews it, which is
// what the node lifecycle controller sees when a VM's kubelet dies.
const (
	stoppedKubelet = "vsconform-stopped-kubelet"
	// stoppedLeaseSeconds keeps kwok from taking the Lease back while a
	// spec runs; the node lifecycle controller judges by renewTime only.
	stoppedLeaseSeconds = 3600
	// kubeletRestartTimeout bounds kwok's re-creating the Lease (it retries
	// every quarter of the lease duration).
	kubeletRestartTimeout = time.Minute
)

// StopFakeKubelet stops the heartbeats of a fake node, as when the VM's
// kubelet dies with it: the node lifecycle controller then marks it
// NotReady, which is when the cloud node lifecycle controller looks at the
// VM.
func (t *Target) StopFakeKubelet(ctx context.Context, name string) error {
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:null}}}`, kwokManaged)
	if _, err := t.Kube.CoreV1().Nodes().Patch(ctx, name, k8stypes.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("stop kubelet of node %s: %w", name, err)
	}
	leases := t.Kube.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		lease, err := leases.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil // no Lease: status heartbeats were all there was
		}
		if err != nil {
			return err
		}
		holder, seconds := stoppedKubelet, int32(stoppedLeaseSeconds)
		// renewTime stays: the last heartbeat was the running kubelet's.
		lease.Spec.HolderIdentity, lease.Spec.LeaseDurationSeconds = &holder, &seconds
		_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("stop kubelet of node %s: lease: %w", name, err)
	}
	return nil
}

// StartFakeKubelet restarts the heartbeats StopFakeKubelet stopped: the
// stopped holder's Lease goes, kwok creates its own, and the annotation
// comes back so kwok reports the node's status again (Ready).
func (t *Target) StartFakeKubelet(ctx context.Context, name string) error {
	leases := t.Kube.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	if err := leases.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("start kubelet of node %s: lease: %w", name, err)
	}
	// kwok skips a node whose Lease it does not hold, so the annotation
	// comes back only once it holds one again.
	err := WaitFor(ctx, "kwok to hold the Lease of node "+name, kubeletRestartTimeout, func(ctx context.Context) (bool, string, error) {
		lease, err := leases.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, getState("lease", err), nil
		}
		if h := lease.Spec.HolderIdentity; h == nil || *h == stoppedKubelet {
			return false, "lease held by the stopped kubelet", nil
		}
		return true, "", nil
	})
	if err != nil {
		return fmt.Errorf("start kubelet of node %s: %w", name, err)
	}
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:"fake"}}}`, kwokManaged)
	if _, err := t.Kube.CoreV1().Nodes().Patch(ctx, name, k8stypes.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("start kubelet of node %s: %w", name, err)
	}
	return nil
}
