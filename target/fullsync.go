package target

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The vSphere CSI syncer's TriggerCsiFullSync API (cns.vmware.com/v1alpha1,
// the cluster-scoped instance "csifullsync", behind the driver's feature
// state trigger-csi-fullsync): raising spec.triggerSyncID to one more than
// status.lastTriggerSyncID runs a full sync, which sets status.inProgress
// until it ends.
var triggerFullSyncResource = schema.GroupVersionResource{Group: "cns.vmware.com", Version: "v1alpha1", Resource: "triggercsifullsyncs"}

const triggerFullSyncName = "csifullsync"

// FullSyncTimeout bounds one triggered full sync, waiting for a running one
// included.
const FullSyncTimeout = 3 * time.Minute

// TriggerFullSync runs one full sync of the CSI syncer and waits for it to
// end (capability fullSyncTrigger). A negative check ("the syncer did not
// delete X") is only as good as the window it watched: after a full sync
// it has covered the syncer's periodic reconciliation too.
func (t *Target) TriggerFullSync(ctx context.Context) error {
	if !t.Config.Capabilities.FullSyncTrigger {
		return fmt.Errorf("target %s does not declare capability %s", t.Config.Name, FullSyncTrigger)
	}
	res := t.Dynamic.Resource(triggerFullSyncResource)
	var want int64
	return WaitFor(ctx, "a full sync of the CSI syncer (TriggerCsiFullSync "+triggerFullSyncName+")", FullSyncTimeout,
		func(ctx context.Context) (bool, string, error) {
			obj, err := res.Get(ctx, triggerFullSyncName, metav1.GetOptions{})
			if err != nil {
				return false, "", err
			}
			s := readFullSync(obj)
			switch {
			case want == 0 && (s.inProgress || s.spec != s.last):
				return false, s.String(), nil // another full sync runs or is asked for: ours starts after it
			case want == 0:
				if err := unstructured.SetNestedField(obj.Object, s.last+1, "spec", "triggerSyncID"); err != nil {
					return false, s.String(), err
				}
				if _, err := res.Update(ctx, obj, metav1.UpdateOptions{}); err != nil {
					if apierrors.IsConflict(err) {
						return false, s.String(), nil // someone else's trigger won: look again
					}
					return false, s.String(), err
				}
				want = s.last + 1
				return false, s.String(), nil
			case s.last < want || s.inProgress:
				return false, s.String(), nil
			case s.err != "":
				return false, s.String(), fmt.Errorf("full sync %d failed: %s", want, s.err)
			}
			return true, s.String(), nil
		})
}

type fullSyncState struct {
	spec, last int64
	inProgress bool
	err        string
}

func (s fullSyncState) String() string {
	return fmt.Sprintf("triggerSyncID %d, lastTriggerSyncID %d, inProgress %t, error %q", s.spec, s.last, s.inProgress, s.err)
}

func readFullSync(obj *unstructured.Unstructured) fullSyncState {
	var s fullSyncState
	s.spec, _, _ = unstructured.NestedInt64(obj.Object, "spec", "triggerSyncID")
	s.last, _, _ = unstructured.NestedInt64(obj.Object, "status", "lastTriggerSyncID")
	s.inProgress, _, _ = unstructured.NestedBool(obj.Object, "status", "inProgress")
	s.err, _, _ = unstructured.NestedString(obj.Object, "status", "error")
	return s
}
