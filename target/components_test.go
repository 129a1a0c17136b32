package target

import (
	"context"
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func TestValidateComponents(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      map[string]ComponentPods
		wantErr string
	}{
		{"none", nil, ""},
		{"a component", map[string]ComponentPods{ComponentCSIController: {Namespace: "vmware-system-csi", LabelSelector: "app=vsphere-csi-controller"}}, ""},
		{"a set selector", map[string]ComponentPods{ComponentCPI: {Namespace: "kube-system", LabelSelector: "tier in (cpi)"}}, ""},
		{"unknown name", map[string]ComponentPods{"kubelet": {Namespace: "x", LabelSelector: "a=b"}}, `"kubelet" is not one of`},
		{"no namespace", map[string]ComponentPods{ComponentSyncer: {LabelSelector: "a=b"}}, "components.csi-syncer.namespace: not set"},
		{"no selector", map[string]ComponentPods{ComponentSyncer: {Namespace: "x"}}, "not a label selector"},
		{"bad selector", map[string]ComponentPods{ComponentSyncer: {Namespace: "x", LabelSelector: "a=(b"}}, "not a label selector"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := validateComponents(tc.in)
			if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("validateComponents = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestComponentPodsDefaults(t *testing.T) {
	c := &Config{CSI: CSI{Namespace: "vmware-system-csi"},
		Components: map[string]ComponentPods{ComponentSyncer: {Namespace: "mine", LabelSelector: "app=syncer"}}}
	for name, want := range map[string]ComponentPods{
		ComponentCSIController: {"vmware-system-csi", "app=vsphere-csi-controller"},
		ComponentProvisioner:   {"vmware-system-csi", "app=vsphere-csi-controller"},
		ComponentSyncer:        {"mine", "app=syncer"},
		ComponentCPI:           {"kube-system", "k8s-app=vsphere-cloud-controller-manager"},
	} {
		if got := c.componentPods(name); got != want {
			t.Errorf("componentPods(%s) = %+v, want %+v", name, got, want)
		}
	}
}

// On a cluster, stop scales the pods' Deployment to zero and start puts
// back the replicas it had.
func TestPodActionStopStart(t *testing.T) {
	ns := "vmware-system-csi"
	labels := map[string]string{"app": "vsphere-csi-controller"}
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "vsphere-csi-controller", Namespace: ns},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}}}}
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "vsphere-csi-controller-abc", Namespace: ns,
		OwnerReferences: []metav1.OwnerReference{{Kind: "Deployment", Name: dep.Name}}}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "vsphere-csi-controller-abc-1", Namespace: ns, Labels: labels, UID: "old",
		OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: rs.Name}}}}
	cs := fake.NewClientset(dep, rs, pod)
	replicas := int32(3)
	var scaledTo []int32
	cs.PrependReactor("get", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "scale" {
			return false, nil, nil
		}
		return true, &autoscalingv1.Scale{Spec: autoscalingv1.ScaleSpec{Replicas: replicas}}, nil
	})
	cs.PrependReactor("update", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "scale" {
			return false, nil, nil
		}
		s := a.(k8stesting.UpdateAction).GetObject().(*autoscalingv1.Scale)
		scaledTo = append(scaledTo, s.Spec.Replicas)
		replicas = s.Spec.Replicas
		if replicas > 0 { // the Deployment's new pods come up Ready
			for i := range replicas {
				p := pod.DeepCopy()
				p.Name = fmt.Sprintf("%s-new%d", p.Name, i)
				p.UID = types.UID(p.Name)
				p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
				if err := cs.Tracker().Add(p); err != nil {
					return true, nil, err
				}
			}
		}
		return true, s, nil
	})
	tg := &Target{Config: &Config{CSI: CSI{Namespace: ns}}, Kube: cs}
	p := tg.Config.componentPods(ComponentSyncer)
	ctx := context.Background()
	if _, err := tg.podAction(ctx, p, ActionStop); err != nil {
		t.Fatal(err)
	}
	st, err := tg.podAction(ctx, p, ActionStart)
	if err != nil {
		t.Fatal(err)
	}
	if len(scaledTo) != 2 || scaledTo[0] != 0 || scaledTo[1] != 3 || !st.Running {
		t.Errorf("scaled to %v (status %+v), want [0 3] and running", scaledTo, st)
	}
	// A start with nothing stopped changes nothing.
	if _, err := tg.podAction(ctx, p, ActionStart); err != nil || len(scaledTo) != 2 {
		t.Errorf("a second start scaled %v, %v", scaledTo, err)
	}
}
