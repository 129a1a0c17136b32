package cpi

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"

	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// The provider is whatever the target declares (capability loadBalancer:
// metallb or nsxt). With MetalLB there is no vCenter side to check: the
// addresses live in the Kubernetes API only.
var _ = Describe("Services of type LoadBalancer", Label(labels.LB), func() {
	var (
		t  *target.Target
		ns string
	)

	BeforeEach(func(ctx SpecContext) {
		t = target.Current()
		t.Require(target.LoadBalancer)
		ns = t.CreateNamespace(ctx, "lb").Name
	})

	It("get an ingress IP from the configured pool", func(ctx SpecContext) {
		svc := createService(ctx, t, ns, newLBService("web", 80, nil))
		ip := waitForIngressIP(ctx, t, ns, svc.Name)
		expectFromPool(ctx, t, ip)
	}, SpecTimeout(3*time.Minute))

	It("get one distinct IP each", func(ctx SpecContext) {
		const n = 5
		for i := range n {
			createService(ctx, t, ns, newLBService(fmt.Sprintf("web-%d", i), 80, nil))
		}
		owner := map[string]string{}
		for i := range n {
			name := fmt.Sprintf("web-%d", i)
			ip := waitForIngressIP(ctx, t, ns, name)
			expectFromPool(ctx, t, ip)
			Expect(owner).NotTo(HaveKey(ip), "Services %s and %s share IP %s", owner[ip], name, ip)
			owner[ip] = name
		}
		Expect(owner).To(HaveLen(n))
	}, SpecTimeout(3*time.Minute))

	It("release their IP on deletion, so a new Service can have it", func(ctx SpecContext) {
		t.Require(target.LoadBalancerMetalLB) // asking for an address is provider-specific
		first := createService(ctx, t, ns, newLBService("first", 80, nil))
		ip := waitForIngressIP(ctx, t, ns, first.Name)

		By("refusing the IP to a second Service while the first holds it")
		second := createService(ctx, t, ns, newLBService("second", 80, map[string]string{annotationIPs: ip}))
		Eventually(func(ctx context.Context) ([]string, error) {
			return serviceEvents(ctx, t, ns, second.Name)
		}).WithContext(ctx).WithTimeout(ingressTimeout).Should(ContainElement(HavePrefix("AllocationFailed")),
			"MetalLB gave no AllocationFailed event for a Service asking for %s, which %s holds", ip, first.Name)
		got, err := t.Kube.CoreV1().Services(ns).Get(ctx, second.Name, metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(ingressIPs(got)).To(BeEmpty(), "two Services hold %s", ip)

		By("giving the IP to the second Service once the first is deleted")
		Expect(t.Kube.CoreV1().Services(ns).Delete(ctx, first.Name, metav1.DeleteOptions{})).To(Succeed())
		Expect(waitForIngressIP(ctx, t, ns, second.Name)).To(Equal(ip))
	}, SpecTimeout(4*time.Minute))

	It("keep their IP when a port changes, and show the new port", func(ctx SpecContext) {
		svc := createService(ctx, t, ns, newLBService("web", 80, nil))
		ip := waitForIngressIP(ctx, t, ns, svc.Name)

		got, err := t.Kube.CoreV1().Services(ns).Get(ctx, svc.Name, metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		got.Spec.Ports[0].Port = 8443
		_, err = t.Kube.CoreV1().Services(ns).Update(ctx, got, metav1.UpdateOptions{})
		Expect(err).NotTo(HaveOccurred())

		Eventually(func(ctx context.Context) (int32, error) {
			s, err := t.Kube.CoreV1().Services(ns).Get(ctx, svc.Name, metav1.GetOptions{})
			if err != nil {
				return 0, err
			}
			if len(s.Spec.Ports) != 1 || len(ingressIPs(s)) == 0 || ingressIPs(s)[0] != ip {
				return 0, fmt.Errorf("ports %v, ingress %v (want %s)", s.Spec.Ports, ingressIPs(s), ip)
			}
			return s.Spec.Ports[0].Port, nil
		}).WithContext(ctx).WithTimeout(ingressTimeout).Should(Equal(int32(8443)))
		// The provider reconciles after the change; the IP must survive it.
		Consistently(func(ctx context.Context) ([]string, error) {
			s, err := t.Kube.CoreV1().Services(ns).Get(ctx, svc.Name, metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			return ingressIPs(s), nil
		}).WithContext(ctx).WithTimeout(3 * time.Second).Should(Equal([]string{ip}))
	}, SpecTimeout(3*time.Minute))

	It("leave the next Service pending with an event when the pool is exhausted, never duplicating an IP", Label(labels.Negative), func(ctx SpecContext) {
		t.Require(target.LoadBalancerMetalLB) // the spec makes its own MetalLB pool
		poolNS, _ := metalLBPools(ctx, t)
		pool := "vsconform-" + rand.String(5)
		// TEST-NET-1 (RFC 5737): documentation addresses no network uses.
		createPool(ctx, t, poolNS, pool, "192.0.2.10-192.0.2.11")
		ask := map[string]string{annotationPool: pool}
		var names []string
		for i := range 3 {
			name := fmt.Sprintf("svc-%d", i)
			createService(ctx, t, ns, newLBService(name, 80, ask))
			names = append(names, name)
			// Services go before the pool: registered later, cleaned up first.
			t.Track("Service "+ns+"/"+name, func(ctx context.Context) error {
				err := t.Kube.CoreV1().Services(ns).Delete(ctx, name, metav1.DeleteOptions{})
				if apierrors.IsNotFound(err) {
					return nil
				}
				return err
			})
		}
		a := waitForIngressIP(ctx, t, ns, names[0])
		b := waitForIngressIP(ctx, t, ns, names[1])
		Expect(a).NotTo(Equal(b), "two Services got the same IP from a pool of two")
		Expect([]string{a, b}).To(ConsistOf("192.0.2.10", "192.0.2.11"))

		Eventually(func(ctx context.Context) ([]string, error) {
			return serviceEvents(ctx, t, ns, names[2])
		}).WithContext(ctx).WithTimeout(ingressTimeout).Should(ContainElement(HavePrefix("AllocationFailed")),
			"no AllocationFailed event for the Service that finds pool %s exhausted", pool)
		Consistently(func(ctx context.Context) ([]string, error) {
			s, err := t.Kube.CoreV1().Services(ns).Get(ctx, names[2], metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			return ingressIPs(s), nil
		}).WithContext(ctx).WithTimeout(3*time.Second).Should(BeEmpty(), "the third Service got an IP from an exhausted pool of two")
	}, SpecTimeout(4*time.Minute))
})
