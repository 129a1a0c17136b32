package cpi

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// ingressTimeout bounds how long a provider may take to assign an address.
const ingressTimeout = 2 * time.Minute

var ipPoolGVR = schema.GroupVersionResource{Group: "metallb.io", Version: "v1beta1", Resource: "ipaddresspools"}

// MetalLB annotations (v0.13+): pick a pool, ask for given addresses.
const (
	annotationPool = "metallb.io/address-pool"
	annotationIPs  = "metallb.io/loadBalancerIPs"
)

func newLBService(name string, port int32, annotations map[string]string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeLoadBalancer,
			Selector: map[string]string{"app": name},
			Ports:    []corev1.ServicePort{{Name: "http", Port: port, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}},
		},
	}
}

// createService creates the Service in ns (the namespace's cleanup deletes
// it with the namespace) and records its events if the spec fails.
func createService(ctx context.Context, t *target.Target, ns string, svc *corev1.Service) *corev1.Service {
	GinkgoHelper()
	created, err := t.Kube.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred(), "create Service %s/%s", ns, svc.Name)
	return created
}

// waitForIngressIP waits until the Service has a load-balancer IP.
func waitForIngressIP(ctx context.Context, t *target.Target, ns, name string) string {
	GinkgoHelper()
	var ip string
	err := target.WaitFor(ctx, fmt.Sprintf("Service %s/%s to get a load-balancer IP", ns, name), ingressTimeout,
		func(ctx context.Context) (bool, string, error) {
			svc, err := t.Kube.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err.Error(), nil
			}
			ips := ingressIPs(svc)
			if len(ips) > 0 {
				ip = ips[0]
				return true, "", nil
			}
			return false, "no ingress" + lastEvent(ctx, t, ns, name), nil
		})
	Expect(err).NotTo(HaveOccurred())
	return ip
}

func ingressIPs(svc *corev1.Service) []string {
	var out []string
	for _, in := range svc.Status.LoadBalancer.Ingress {
		if in.IP != "" {
			out = append(out, in.IP)
		}
	}
	return out
}

// serviceEvents lists "Reason: message" of the Service's events.
func serviceEvents(ctx context.Context, t *target.Target, ns, name string) ([]string, error) {
	list, err := t.Kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{
		FieldSelector: fmt.Sprintf("involvedObject.kind=Service,involvedObject.name=%s", name),
	})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range list.Items {
		out = append(out, e.Reason+": "+e.Message)
	}
	return out, nil
}

func lastEvent(ctx context.Context, t *target.Target, ns, name string) string {
	events, err := serviceEvents(ctx, t, ns, name)
	if err != nil || len(events) == 0 {
		return ""
	}
	return "; last event: " + events[len(events)-1]
}

// addressRange is one entry of an IPAddressPool: a CIDR or "first-last".
type addressRange struct{ first, last netip.Addr }

func parseAddressRange(s string) (addressRange, error) {
	s = strings.TrimSpace(s)
	if first, last, ok := strings.Cut(s, "-"); ok {
		a, err1 := netip.ParseAddr(strings.TrimSpace(first))
		b, err2 := netip.ParseAddr(strings.TrimSpace(last))
		if err1 != nil || err2 != nil || b.Less(a) {
			return addressRange{}, fmt.Errorf("bad address range %q", s)
		}
		return addressRange{a, b}, nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return addressRange{}, fmt.Errorf("bad address range %q: %v", s, err)
	}
	p = p.Masked()
	last := p.Addr()
	for a := p.Addr(); p.Contains(a); a = a.Next() {
		last = a
	}
	return addressRange{p.Addr(), last}, nil
}

func (r addressRange) contains(ip string) bool {
	a, err := netip.ParseAddr(ip)
	return err == nil && !a.Less(r.first) && !r.last.Less(a)
}

// metalLBPools reads the MetalLB pools: namespace, and per pool its ranges.
func metalLBPools(ctx context.Context, t *target.Target) (string, map[string][]addressRange) {
	GinkgoHelper()
	list, err := t.Dynamic.Resource(ipPoolGVR).List(ctx, metav1.ListOptions{})
	Expect(err).NotTo(HaveOccurred(), "list MetalLB IPAddressPools")
	Expect(list.Items).NotTo(BeEmpty(), "the target declares loadBalancer: metallb but has no IPAddressPool")
	pools := map[string][]addressRange{}
	ns := ""
	for _, p := range list.Items {
		ns = p.GetNamespace()
		addrs, _, _ := unstructured.NestedStringSlice(p.Object, "spec", "addresses")
		for _, a := range addrs {
			r, err := parseAddressRange(a)
			Expect(err).NotTo(HaveOccurred(), "pool %s", p.GetName())
			pools[p.GetName()] = append(pools[p.GetName()], r)
		}
	}
	return ns, pools
}

// expectFromPool checks that ip lies in one of the configured pools, when
// the provider's pools can be read (MetalLB).
func expectFromPool(ctx context.Context, t *target.Target, ip string) {
	GinkgoHelper()
	Expect(netip.ParseAddr(ip)).Error().NotTo(HaveOccurred(), "ingress %q is not an IP address", ip)
	if t.Config.Capabilities.LoadBalancer != "metallb" {
		return
	}
	_, pools := metalLBPools(ctx, t)
	for _, ranges := range pools {
		for _, r := range ranges {
			if r.contains(ip) {
				return
			}
		}
	}
	Fail(fmt.Sprintf("ingress IP %s is in no MetalLB IPAddressPool (%v)", ip, pools))
}

// createPool makes a MetalLB pool that only Services asking for it by name
// use, and registers its deletion.
func createPool(ctx context.Context, t *target.Target, ns, name string, addresses ...string) {
	GinkgoHelper()
	pool := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "metallb.io/v1beta1",
		"kind":       "IPAddressPool",
		"metadata":   map[string]any{"name": name, "namespace": ns, "labels": map[string]any{target.LabelSpec: "true"}},
		"spec":       map[string]any{"addresses": toAny(addresses), "autoAssign": false},
	}}
	_, err := t.Dynamic.Resource(ipPoolGVR).Namespace(ns).Create(ctx, pool, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred(), "create IPAddressPool %s/%s", ns, name)
	t.Track("IPAddressPool "+ns+"/"+name, func(ctx context.Context) error {
		err := t.Dynamic.Resource(ipPoolGVR).Namespace(ns).Delete(ctx, name, metav1.DeleteOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	})
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
