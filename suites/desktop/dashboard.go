package desktop

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// dashboardNamespace is where minikube's dashboard addon (and the upstream
// recommended manifest) installs kubernetes-dashboard.
const dashboardNamespace = "kubernetes-dashboard"

var _ = Describe("The dashboard addon", Label(labels.Desktop), func() {
	It("runs kubernetes-dashboard and its metrics scraper where it is installed", func(ctx SpecContext) {
		t := target.Current()
		_, err := t.Kube.CoreV1().Namespaces().Get(ctx, dashboardNamespace, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			Skip("target " + t.Config.Name + " has no dashboard addon (no namespace " + dashboardNamespace + ")")
		}
		Expect(err).NotTo(HaveOccurred())
		for _, name := range []string{"kubernetes-dashboard", "dashboard-metrics-scraper"} {
			Expect(waitDeploymentAvailable(ctx, t, dashboardNamespace, name)).To(Succeed())
		}
	}, SpecTimeout(6*time.Minute))
})
