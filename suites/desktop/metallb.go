package desktop

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/vmware/govmomi/vim25/mo"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/vsphere-conformance/vsphere-conformance/desktop"
	"github.com/vsphere-conformance/vsphere-conformance/fixtures"
	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// helloManifest is the talk's demo app: a Deployment and a LoadBalancer Service.
const helloManifest = "desktop/manifests/hello-minikube.yaml"

// lbTimeout bounds the wait for MetalLB to assign an address.
const lbTimeout = 2 * time.Minute

// Serial: it may add a node, where other specs would schedule pods.
var _ = Describe("MetalLB on the desktop setup", Serial, Label(labels.Desktop, labels.LB), func() {
	var t *target.Target

	BeforeEach(func() {
		t = target.Current()
		t.Require(target.LoadBalancerMetalLB)
	})

	It("runs the MetalLB controller with an address pool", func(ctx SpecContext) {
		pools, items, err := clusterPools(ctx, t)
		Expect(err).NotTo(HaveOccurred())
		Expect(poolRanges(pools)).NotTo(BeEmpty(), "MetalLB's pools have no usable address: %v", pools)
		for _, p := range pools {
			Expect(p.Invalid).To(BeEmpty(), "%s has addresses MetalLB rejects", p)
		}
		AddReportEntry("MetalLB pools", poolsText(pools))

		By("finding the controller: its Deployment when MetalLB runs in the cluster, else the pool status only it writes")
		dep, err := t.Kube.AppsV1().Deployments(metallbNamespace).Get(ctx, "controller", metav1.GetOptions{})
		switch {
		case err == nil:
			Expect(waitDeploymentAvailable(ctx, t, dep.Namespace, dep.Name)).To(Succeed())
		case apierrors.IsNotFound(err):
			// MetalLB >= 0.15's controller publishes each IPAddressPool's
			// free and assigned counts in its status.
			Expect(poolStatusWritten(items)).To(BeTrue(),
				"no Deployment %s/controller and no IPAddressPool status: is the MetalLB controller running?", metallbNamespace)
		default:
			Expect(err).NotTo(HaveOccurred())
		}
	}, SpecTimeout(5*time.Minute))

	It("gives hello-minikube, exposed as a LoadBalancer, an address from the pool on a node's network", func(ctx SpecContext) {
		pools, _, err := clusterPools(ctx, t)
		Expect(err).NotTo(HaveOccurred())
		ranges := poolRanges(pools)
		Expect(ranges).NotTo(BeEmpty(), "MetalLB has no address pool")

		By("finding the node that MetalLB's layer 2 mode answers from: one on the pool's network, as the minikube VM is")
		node := nodeOnNetwork(ctx, t, ranges[0].Start)
		nodeIP, _ := internalIP(node)
		Expect(guestIPs(ctx, t, node)).To(ContainElement(nodeIP.String()),
			"vCenter's guest info of node %s's VM does not report its InternalIP %s", node.Name, nodeIP)

		ns := t.CreateNamespace(ctx, "desktop-hello").Name
		svc, ip := deployHello(ctx, t, ns)

		By("checking the address against the pool and the node's network")
		pool, ok := poolHolding(pools, ip)
		Expect(ok).To(BeTrue(), "Service %s/%s got %s, which is in no MetalLB pool (%s)", ns, svc.Name, ip, poolsText(pools))
		Expect(sameNetwork(ip, nodeIP)).To(BeTrue(), "LoadBalancer address %s is not on node %s's network %s/%d", ip, node.Name, nodeIP, layer2Prefix)
		Expect(ip).NotTo(Equal(nodeIP), "MetalLB handed out the node's own address")
		AddReportEntry("hello-minikube", fmt.Sprintf("LoadBalancer %s:%d from %s; node %s at %s", ip, svc.Spec.Ports[0].Port, pool, node.Name, nodeIP))
	}, SpecTimeout(8*time.Minute))

	It("answers HTTP at hello-minikube's LoadBalancer address", func(ctx SpecContext) {
		t.Require(target.HTTPReachability)
		ns := t.CreateNamespace(ctx, "desktop-http").Name
		svc, ip := deployHello(ctx, t, ns)
		url := fmt.Sprintf("http://%s/", netip.AddrPortFrom(ip, uint16(svc.Spec.Ports[0].Port)))
		By("GET " + url)
		client := &http.Client{Timeout: 5 * time.Second}
		Eventually(func(ctx context.Context) (int, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return 0, err
			}
			resp, err := client.Do(req)
			if err != nil {
				return 0, err
			}
			defer resp.Body.Close()
			_, _ = io.Copy(io.Discard, resp.Body)
			return resp.StatusCode, nil
		}).WithContext(ctx).WithTimeout(lbTimeout).Should(Equal(http.StatusOK), "GET %s", url)
	}, SpecTimeout(8*time.Minute))
})

// deployHello creates hello-minikube in ns and waits for its pod and its
// LoadBalancer address; the namespace's cleanup removes both.
func deployHello(ctx context.Context, t *target.Target, ns string) (*corev1.Service, netip.Addr) {
	GinkgoHelper()
	dep, svc := helloObjects()
	By("deploying hello-minikube and exposing it as a LoadBalancer")
	_, err := t.Kube.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	t.EvidenceOnFailure(target.EvidenceKubernetes, "Service "+ns+"/"+svc.Name, func(ctx context.Context) string {
		return describeService(ctx, t, ns, svc.Name)
	})
	_, err = t.Kube.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	Expect(waitDeploymentAvailable(ctx, t, ns, dep.Name)).To(Succeed())

	var got *corev1.Service
	var ip netip.Addr
	err = target.WaitFor(ctx, fmt.Sprintf("Service %s/%s to get a LoadBalancer address", ns, svc.Name), lbTimeout, func(ctx context.Context) (bool, string, error) {
		s, err := t.Kube.CoreV1().Services(ns).Get(ctx, svc.Name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		got = s
		for _, in := range s.Status.LoadBalancer.Ingress {
			if a, err := netip.ParseAddr(in.IP); err == nil {
				ip = a
				return true, "", nil
			}
		}
		return false, "status.loadBalancer.ingress is empty (<pending>)", nil
	})
	Expect(err).NotTo(HaveOccurred())
	return got, ip
}

func helloObjects() (*appsv1.Deployment, *corev1.Service) {
	GinkgoHelper()
	data, err := fixtures.FS.ReadFile(helloManifest)
	Expect(err).NotTo(HaveOccurred())
	var dep *appsv1.Deployment
	var svc *corev1.Service
	for _, doc := range strings.Split(string(data), "\n---") {
		var meta metav1.TypeMeta
		Expect(yaml.Unmarshal([]byte(doc), &meta)).To(Succeed())
		switch meta.Kind {
		case "Deployment":
			dep = &appsv1.Deployment{}
			Expect(yaml.UnmarshalStrict([]byte(doc), dep)).To(Succeed())
		case "Service":
			svc = &corev1.Service{}
			Expect(yaml.UnmarshalStrict([]byte(doc), svc)).To(Succeed())
		}
	}
	Expect(dep).NotTo(BeNil(), "%s has no Deployment", helloManifest)
	Expect(svc).NotTo(BeNil(), "%s has no Service", helloManifest)
	// kwok's fake nodes are tainted; a real minikube node is not.
	dep.Spec.Template.Spec.Tolerations = append(dep.Spec.Template.Spec.Tolerations, corev1.Toleration{Operator: corev1.TolerationOpExists})
	return dep, svc
}

func waitDeploymentAvailable(ctx context.Context, t *target.Target, ns, name string) error {
	return target.WaitFor(ctx, fmt.Sprintf("Deployment %s/%s to be available", ns, name), target.Timeouts.PodRunning, func(ctx context.Context) (bool, string, error) {
		d, err := t.Kube.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		return d.Status.AvailableReplicas >= want && want > 0,
			fmt.Sprintf("%d/%d available", d.Status.AvailableReplicas, want), nil
	})
}

// nodeOnNetwork returns a node whose InternalIP shares the pool's network,
// creating the talk's minikube VM and node there when the target can
// (fakeNodes) and none exists.
func nodeOnNetwork(ctx context.Context, t *target.Target, poolAddr netip.Addr) *corev1.Node {
	GinkgoHelper()
	nodes, err := t.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	Expect(err).NotTo(HaveOccurred())
	for i := range nodes.Items {
		if ip, ok := internalIP(&nodes.Items[i]); ok && sameNetwork(poolAddr, ip) {
			return &nodes.Items[i]
		}
	}
	if !t.Config.Capabilities.Has(target.FakeNodes) {
		Fail(fmt.Sprintf("no node has an InternalIP on the MetalLB pool's network %s/%d: layer 2 mode cannot announce the pool", poolAddr, layer2Prefix))
	}
	return createMinikubeNode(ctx, t, talkNodeIP(poolAddr))
}

// talkNodeIP is the minikube VM's address in the talk (.130, the third DHCP
// lease of .128-.254) on the pool's /24.
func talkNodeIP(poolAddr netip.Addr) netip.Addr {
	b := poolAddr.As4()
	b[3] = 130
	return netip.AddrFrom4(b)
}

// guestIPs are the addresses vCenter's guest info reports for the node's VM.
func guestIPs(ctx context.Context, t *target.Target, node *corev1.Node) []string {
	GinkgoHelper()
	vm, err := t.VMForNode(ctx, node)
	Expect(err).NotTo(HaveOccurred())
	var o mo.VirtualMachine
	Expect(vm.Properties(ctx, vm.Reference(), []string{"guest.ipAddress", "guest.net"}, &o)).To(Succeed())
	var ips []string
	if o.Guest != nil {
		ips = append(ips, o.Guest.IpAddress)
		for _, n := range o.Guest.Net {
			ips = append(ips, n.IpAddress...)
		}
	}
	return ips
}

func poolRanges(pools []desktop.Pool) []desktop.Range {
	var out []desktop.Range
	for _, p := range pools {
		out = append(out, p.Ranges...)
	}
	return out
}

func poolsText(pools []desktop.Pool) string {
	var parts []string
	for _, p := range pools {
		var rs []string
		for _, r := range p.Ranges {
			rs = append(rs, r.String())
		}
		parts = append(parts, fmt.Sprintf("%s: %s", p, strings.Join(rs, ", ")))
	}
	return strings.Join(parts, "; ")
}

// poolStatusWritten reports whether any IPAddressPool has the status the
// MetalLB controller writes.
func poolStatusWritten(items []unstructured.Unstructured) bool {
	for _, it := range items {
		if _, found, _ := unstructured.NestedFieldNoCopy(it.Object, "status", "availableIPv4"); found {
			return true
		}
	}
	return false
}

func describeService(ctx context.Context, t *target.Target, ns, name string) string {
	var b strings.Builder
	s, err := t.Kube.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "get: " + err.Error()
	}
	data, _ := yaml.Marshal(s)
	b.Write(data)
	events, err := t.Kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + name})
	if err == nil {
		b.WriteString("events:\n")
		for _, e := range events.Items {
			fmt.Fprintf(&b, "  %s %s: %s\n", e.Type, e.Reason, e.Message)
		}
	}
	return b.String()
}
