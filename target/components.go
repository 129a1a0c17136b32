package target

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Components a spec may stop or restart (capability componentRestart). On
// the hermetic target each is one process; on a cluster each is a container
// of a pod, and stopping or restarting it acts on the whole pod (the CSI
// controller's containers share one).
const (
	ComponentCSIController      = "csi-controller"
	ComponentSyncer             = "csi-syncer"
	ComponentProvisioner        = "csi-provisioner"
	ComponentAttacher           = "csi-attacher"
	ComponentResizer            = "csi-resizer"
	ComponentSnapshotter        = "csi-snapshotter"
	ComponentSnapshotController = "snapshot-controller"
	ComponentCPI                = "cloud-controller"
)

// ComponentNames are the components, in the order of the contract.
var ComponentNames = []string{ComponentCSIController, ComponentSyncer, ComponentProvisioner, ComponentAttacher,
	ComponentResizer, ComponentSnapshotter, ComponentSnapshotController, ComponentCPI}

// ComponentsPath is the hermetic target's component control, on the fault
// endpoint: GET -> []ComponentStatus; POST ComponentsPath/NAME a
// ComponentAction -> ComponentStatus once the action is done (a start or
// restart answers when the component serves again).
const ComponentsPath = "/v1/components"

// Component actions.
const (
	ActionStop    = "stop"    // the process is killed (SIGKILL, as a crash or OOM does) and stays down
	ActionStart   = "start"   // a stopped component starts again, with the same command and environment
	ActionRestart = "restart" // kill, then start
)

// ComponentAction is the body of a component request.
type ComponentAction struct {
	Action string `json:"action"`
}

// ComponentStatus is one component as the hermetic target sees it.
type ComponentStatus struct {
	Name    string `json:"name"`
	Running bool   `json:"running"`
	PID     int    `json:"pid,omitempty"`
	// Starts counts the starts after the first: by an action, or because a
	// sibling that shares its pod restarted (a sidecar exits when it loses
	// the CSI socket, and the kubelet starts it again).
	Starts int `json:"starts,omitempty"`
}

// ComponentPods find a component's pods on a real cluster.
type ComponentPods struct {
	Namespace     string `json:"namespace" yaml:"namespace"`
	LabelSelector string `json:"labelSelector" yaml:"labelSelector"`
}

// defaultComponentPods are where the vSphere CSI driver's and CPI's
// published manifests put each component: every CSI container in the
// vsphere-csi-controller Deployment, the CPI in its DaemonSet.
func (c *Config) defaultComponentPods(name string) ComponentPods {
	if name == ComponentCPI {
		return ComponentPods{Namespace: "kube-system", LabelSelector: "k8s-app=vsphere-cloud-controller-manager"}
	}
	ns := c.CSI.Namespace
	if name == ComponentSnapshotController {
		return ComponentPods{Namespace: "kube-system", LabelSelector: "app=snapshot-controller"}
	}
	return ComponentPods{Namespace: ns, LabelSelector: "app=vsphere-csi-controller"}
}

// componentPods is where the config says the component's pods are, or the
// published default.
func (c *Config) componentPods(name string) ComponentPods {
	if p, ok := c.Components[name]; ok {
		return p
	}
	return c.defaultComponentPods(name)
}

// validateComponents checks the components section.
func validateComponents(c map[string]ComponentPods) error {
	for name, p := range c {
		if !slices.Contains(ComponentNames, name) {
			return fmt.Errorf("components: %q is not one of %s", name, strings.Join(ComponentNames, ", "))
		}
		if p.Namespace == "" {
			return fmt.Errorf("components.%s.namespace: not set", name)
		}
		if _, err := labels.Parse(p.LabelSelector); err != nil || p.LabelSelector == "" {
			return fmt.Errorf("components.%s.labelSelector %q: not a label selector", name, p.LabelSelector)
		}
	}
	return nil
}

// componentTimeout bounds one action: a CSI controller that is not serving
// again in that time is a finding.
const componentTimeout = 3 * time.Minute

// RestartComponent kills a component, as a crash does, and returns once it
// serves again (hermetic: its process; a cluster: every pod of it deleted
// and as many new ones Ready).
func (t *Target) RestartComponent(ctx context.Context, name string) ComponentStatus {
	ginkgo.GinkgoHelper()
	st, err := t.componentAction(ctx, name, ActionRestart)
	if err != nil {
		ginkgo.Fail(fmt.Sprintf("restart %s: %v", name, err))
	}
	return st
}

// StopComponent takes a component down until StartComponent, and registers
// its start for the end of the spec, so nothing stays down after it.
func (t *Target) StopComponent(ctx context.Context, name string) {
	ginkgo.GinkgoHelper()
	if _, err := t.componentAction(ctx, name, ActionStop); err != nil {
		ginkgo.Fail(fmt.Sprintf("stop %s: %v", name, err))
	}
	ginkgo.DeferCleanup(func(ctx context.Context) error {
		_, err := t.componentAction(ctx, name, ActionStart)
		return err
	})
}

// StartComponent starts a stopped component and returns once it serves;
// starting one that runs is no error.
func (t *Target) StartComponent(ctx context.Context, name string) ComponentStatus {
	ginkgo.GinkgoHelper()
	st, err := t.componentAction(ctx, name, ActionStart)
	if err != nil {
		ginkgo.Fail(fmt.Sprintf("start %s: %v", name, err))
	}
	return st
}

func (t *Target) componentAction(ctx context.Context, name, action string) (ComponentStatus, error) {
	ginkgo.GinkgoHelper()
	t.Require(ComponentRestart)
	if !slices.Contains(ComponentNames, name) {
		return ComponentStatus{}, fmt.Errorf("unknown component %q (one of %s)", name, strings.Join(ComponentNames, ", "))
	}
	ctx, cancel := context.WithTimeout(ctx, componentTimeout)
	defer cancel()
	if t.Config.Faults != nil {
		var st ComponentStatus
		err := t.faults(ComponentRestart).do(ctx, http.MethodPost, ComponentsPath+"/"+url.PathEscape(name), ComponentAction{Action: action}, &st)
		return st, err
	}
	return t.podAction(ctx, t.Config.componentPods(name), action)
}

// podAction does an action on a real cluster: restart deletes the pods and
// waits for as many new Ready ones; stop scales the owning Deployment to
// zero, start scales it back (a DaemonSet cannot be stopped).
func (t *Target) podAction(ctx context.Context, p ComponentPods, action string) (ComponentStatus, error) {
	pods, err := t.Kube.CoreV1().Pods(p.Namespace).List(ctx, metav1.ListOptions{LabelSelector: p.LabelSelector})
	if err != nil {
		return ComponentStatus{}, err
	}
	switch action {
	case ActionRestart:
		if len(pods.Items) == 0 {
			return ComponentStatus{}, fmt.Errorf("no pods in %s match %s", p.Namespace, p.LabelSelector)
		}
		old := map[string]bool{}
		for _, pod := range pods.Items {
			old[string(pod.UID)] = true
			if err := t.Kube.CoreV1().Pods(p.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return ComponentStatus{}, err
			}
		}
		return t.waitNewPodsReady(ctx, p, old, len(pods.Items))
	case ActionStop, ActionStart:
		dep, err := t.owningDeployment(ctx, p, pods.Items)
		if err != nil {
			return ComponentStatus{}, err
		}
		replicas := int32(0)
		if action == ActionStart {
			replicas = t.stoppedReplicas[p.Namespace+"/"+dep]
			if replicas == 0 {
				return ComponentStatus{Running: len(pods.Items) > 0}, nil // never stopped by us
			}
		} else {
			scale, err := t.Kube.AppsV1().Deployments(p.Namespace).GetScale(ctx, dep, metav1.GetOptions{})
			if err != nil {
				return ComponentStatus{}, err
			}
			if t.stoppedReplicas == nil {
				t.stoppedReplicas = map[string]int32{}
			}
			t.stoppedReplicas[p.Namespace+"/"+dep] = scale.Spec.Replicas
		}
		scale := &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: dep, Namespace: p.Namespace}, Spec: autoscalingv1.ScaleSpec{Replicas: replicas}}
		if _, err := t.Kube.AppsV1().Deployments(p.Namespace).UpdateScale(ctx, dep, scale, metav1.UpdateOptions{}); err != nil {
			return ComponentStatus{}, err
		}
		if action == ActionStop {
			return ComponentStatus{}, nil
		}
		delete(t.stoppedReplicas, p.Namespace+"/"+dep)
		old := map[string]bool{}
		for _, pod := range pods.Items {
			old[string(pod.UID)] = true
		}
		return t.waitNewPodsReady(ctx, p, old, int(replicas))
	}
	return ComponentStatus{}, fmt.Errorf("unknown action %q", action)
}

// owningDeployment is the Deployment whose ReplicaSet owns the pods.
func (t *Target) owningDeployment(ctx context.Context, p ComponentPods, pods []corev1.Pod) (string, error) {
	for _, pod := range pods {
		for _, ref := range pod.OwnerReferences {
			if ref.Kind != "ReplicaSet" {
				continue
			}
			rs, err := t.Kube.AppsV1().ReplicaSets(p.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
			if err != nil {
				return "", err
			}
			for _, o := range rs.OwnerReferences {
				if o.Kind == "Deployment" {
					return o.Name, nil
				}
			}
		}
	}
	// Stopped already (no pods): find the Deployment by its selector.
	deps, err := t.Kube.AppsV1().Deployments(p.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", err
	}
	sel, _ := labels.Parse(p.LabelSelector)
	for _, d := range deps.Items {
		if deploymentMatches(d, sel) {
			return d.Name, nil
		}
	}
	return "", fmt.Errorf("no Deployment in %s runs pods matching %s", p.Namespace, p.LabelSelector)
}

func deploymentMatches(d appsv1.Deployment, sel labels.Selector) bool {
	return sel.Matches(labels.Set(d.Spec.Template.Labels))
}

// waitNewPodsReady waits until want pods match, none of them an old one,
// all Ready.
func (t *Target) waitNewPodsReady(ctx context.Context, p ComponentPods, old map[string]bool, want int) (ComponentStatus, error) {
	last := "no pods"
	for {
		pods, err := t.Kube.CoreV1().Pods(p.Namespace).List(ctx, metav1.ListOptions{LabelSelector: p.LabelSelector})
		if err == nil {
			ready := 0
			for _, pod := range pods.Items {
				if !old[string(pod.UID)] && pod.DeletionTimestamp == nil && podReady(pod) {
					ready++
				}
			}
			if ready >= want {
				return ComponentStatus{Running: true, Starts: ready}, nil
			}
			last = fmt.Sprintf("%d of %d new pods Ready", ready, want)
		}
		select {
		case <-ctx.Done():
			return ComponentStatus{}, fmt.Errorf("pods %s in %s: %s", p.LabelSelector, p.Namespace, last)
		case <-time.After(time.Second):
		}
	}
}

func podReady(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
