package cpi

import (
	"context"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gmeasure"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"

	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// defaultScaleNodes is N when the target config leaves cpi.scaleNodes unset.
const defaultScaleNodes = 200

// Serial: it adds and removes many nodes, where other specs would schedule pods.
var _ = Describe("Node initialisation at scale", Serial, Label(labels.CPI, labels.Nodes, labels.Scale), func() {
	It("initialises N new nodes backed by N new VMs and records the time each took", func(ctx SpecContext) {
		t := target.Current()
		t.Require(target.FakeNodes)
		n := t.Config.CPI.ScaleNodes
		if n == 0 {
			n = defaultScaleNodes
		}
		batch := "scale-" + rand.String(5)
		folder, pool := vmFolder(ctx, t), t.NodePool(ctx)

		By(fmt.Sprintf("creating %d VMs", n))
		names := make([]string, n)
		uuids := make([]string, n)
		for i := range n {
			names[i] = fmt.Sprintf("vsconform-%s-%03d", batch, i)
			_, uuids[i] = t.CreateNodeVM(ctx, target.NodeVMSpec{Name: names[i], IP: guestIP(i), Folder: folder, Pool: pool})
		}

		By(fmt.Sprintf("registering %d nodes at once and waiting for the CPI to initialise them all", n))
		created := map[string]time.Time{}
		for i := range n {
			node := t.RegisterFakeNode(ctx, names[i], uuids[i], map[string]string{"vsconform.io/batch": batch})
			created[names[i]] = node.CreationTimestamp.Time
		}
		exp := gmeasure.NewExperiment(fmt.Sprintf("CPI node initialisation (%d nodes)", n))
		AddReportEntry(exp.Name, exp)
		done := map[string]bool{}
		err := target.WaitFor(ctx, fmt.Sprintf("the CPI to initialise %d nodes", n), 10*time.Minute, func(ctx context.Context) (bool, string, error) {
			list, err := t.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: "vsconform.io/batch=" + batch})
			if err != nil {
				return false, err.Error(), nil
			}
			now := time.Now()
			for _, node := range list.Items {
				if done[node.Name] || hasTaint(node, target.TaintUninitialized) {
					continue
				}
				done[node.Name] = true
				// Creation timestamps have second precision: the figure is
				// an upper bound, rounded to the poll interval.
				exp.RecordDuration("time to initialise", now.Sub(created[node.Name]))
				Expect(node.Spec.ProviderID).To(Equal(providerPrefix+uuids[indexOf(names, node.Name)]), "node %s", node.Name)
			}
			return len(done) == n, initialisedState(names, done), nil
		})
		Expect(err).NotTo(HaveOccurred())
	}, SpecTimeout(30*time.Minute))
})

// initialisedState says how many of the nodes are initialised and names
// the first few that are not, so a wait that runs out shows which.
func initialisedState(names []string, done map[string]bool) string {
	var pending []string
	for _, name := range names {
		if !done[name] {
			pending = append(pending, name)
		}
	}
	state := fmt.Sprintf("%d of %d initialised", len(names)-len(pending), len(names))
	if len(pending) == 0 {
		return state
	}
	const shown = 5
	state += "; not yet: " + strings.Join(pending[:min(shown, len(pending))], ", ")
	if len(pending) > shown {
		state += fmt.Sprintf(" and %d more", len(pending)-shown)
	}
	return state
}

func indexOf(names []string, name string) int {
	for i, n := range names {
		if n == name {
			return i
		}
	}
	return -1
}
