package target

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"
)

func fullSyncObject(spec, last int64, inProgress bool, errText string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "cns.vmware.com/v1alpha1", "kind": "TriggerCsiFullSync",
		"metadata": map[string]any{"name": triggerFullSyncName},
		"spec":     map[string]any{"triggerSyncID": spec},
		"status":   map[string]any{"lastTriggerSyncID": last, "inProgress": inProgress, "error": errText},
	}}
}

// syncerTarget is a Target whose TriggerCsiFullSync instance starts as obj
// and whose "syncer" answers a raised triggerSyncID as the controller does
// (status.lastTriggerSyncID = spec, inProgress false), reporting errText.
func syncerTarget(t *testing.T, obj *unstructured.Unstructured, errText string, updates *int) *Target {
	t.Helper()
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{triggerFullSyncResource: "TriggerCsiFullSyncList"}, obj)
	dyn.PrependReactor("update", "triggercsifullsyncs", func(a k8stesting.Action) (bool, runtime.Object, error) {
		*updates++
		u := a.(k8stesting.UpdateAction).GetObject().(*unstructured.Unstructured).DeepCopy()
		id, _, _ := unstructured.NestedInt64(u.Object, "spec", "triggerSyncID")
		_ = unstructured.SetNestedField(u.Object, id, "status", "lastTriggerSyncID")
		_ = unstructured.SetNestedField(u.Object, false, "status", "inProgress")
		_ = unstructured.SetNestedField(u.Object, errText, "status", "error")
		return true, u, dyn.Tracker().Update(triggerFullSyncResource, u, "")
	})
	return &Target{Dynamic: dyn, Config: &Config{Name: "t", Capabilities: Capabilities{FullSyncTrigger: true}}}
}

func TestTriggerFullSync(t *testing.T) {
	tests := []struct {
		name        string
		start       *unstructured.Unstructured
		syncErr     string
		wantErr     string
		wantUpdates int
		wantID      int64
	}{
		{name: "raises the id by one and waits for its end", start: fullSyncObject(4, 4, false, ""), wantUpdates: 1, wantID: 5},
		{name: "a failed full sync is an error", start: fullSyncObject(1, 1, false, ""), syncErr: "CNS down", wantErr: "full sync 2 failed: CNS down", wantUpdates: 1, wantID: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var updates int
			tg := syncerTarget(t, tc.start, tc.syncErr, &updates)
			err := tg.TriggerFullSync(context.Background())
			if tc.wantErr == "" && err != nil {
				t.Fatal(err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
			if updates != tc.wantUpdates {
				t.Errorf("%d updates, want %d", updates, tc.wantUpdates)
			}
			obj, err := tg.Dynamic.Resource(triggerFullSyncResource).Get(context.Background(), triggerFullSyncName, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if s := readFullSync(obj); s.spec != tc.wantID {
				t.Errorf("triggerSyncID %d, want %d", s.spec, tc.wantID)
			}
		})
	}
}

func TestTriggerFullSyncNeedsTheCapability(t *testing.T) {
	tg := &Target{Config: &Config{Name: "lab"}}
	if err := tg.TriggerFullSync(context.Background()); err == nil || !strings.Contains(err.Error(), "does not declare capability fullSyncTrigger") {
		t.Fatalf("error %v", err)
	}
}
