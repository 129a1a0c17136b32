package desktop

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vsphere-conformance/vsphere-conformance/desktop"
	"github.com/vsphere-conformance/vsphere-conformance/fixtures"
	"github.com/vsphere-conformance/vsphere-conformance/suites/labels"
)

// fixtureDir is the talk's setups inside the embedded fixtures.
const fixtureDir = "desktop"

var _ = Describe("Host checks of the talk's desktop setup", Label(labels.Desktop), func() {
	DescribeTable("find nothing wrong with the talk's setup",
		func(p desktop.Platform) {
			r := checkCase(desktop.FixtureCase{Platform: p, Name: desktop.GoodCase, Dir: path.Join(fixtureDir, string(p), desktop.GoodCase)})
			Expect(r.Findings).To(BeEmpty(), "findings on the talk's %s setup:\n%s", p, reportText(r))
		},
		Entry("on Workstation for Windows", desktop.WorkstationWindows),
		Entry("on Workstation for Linux", desktop.WorkstationLinux),
		Entry("on Fusion", desktop.Fusion),
	)

	DescribeTable("report every known mistake with its rule, explanation and fix",
		func(p desktop.Platform) {
			cases, err := desktop.FixtureCases(fixtures.FS, fixtureDir)
			Expect(err).NotTo(HaveOccurred())
			checked := 0
			for _, c := range cases {
				if c.Platform != p || c.Name == desktop.GoodCase {
					continue
				}
				r := checkCase(c)
				Expect(r.Findings).NotTo(BeEmpty(), "no finding for the mistake %s/%s", p, c.Name)
				for _, f := range r.Findings {
					Expect(f.Message).NotTo(BeEmpty(), "%s/%s: %s has no explanation", p, c.Name, f.ID)
					Expect(f.Fix).NotTo(BeEmpty(), "%s/%s: %s has no fix hint", p, c.Name, f.ID)
				}
				golden, err := fs.ReadFile(fixtures.FS, path.Join(c.Dir, "expected.golden"))
				Expect(err).NotTo(HaveOccurred())
				Expect(reportText(r)).To(Equal(string(golden)), "report for %s/%s differs from its expected.golden", p, c.Name)
				checked++
			}
			Expect(checked).To(BeNumerically(">", 0), "fixtures/desktop/%s has no broken variants", p)
			AddReportEntry(fmt.Sprintf("%s mistakes checked", p), checked)
		},
		Entry("on Workstation for Windows", desktop.WorkstationWindows),
		Entry("on Workstation for Linux", desktop.WorkstationLinux),
		Entry("on Fusion", desktop.Fusion),
	)
})

func checkCase(c desktop.FixtureCase) desktop.Report {
	GinkgoHelper()
	r, err := desktop.CheckFixture(fixtures.FS, c)
	Expect(err).NotTo(HaveOccurred())
	return r
}

func reportText(r desktop.Report) string {
	var b bytes.Buffer
	_ = r.WriteText(&b)
	return strings.TrimRight(b.String(), "\n") + "\n"
}
