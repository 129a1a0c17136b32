package reports

import (
	"net/url"
	"time"

	"github.com/onsi/ginkgo/v2/types"
	"github.com/onsi/gomega/gmeasure"
)

// canary must never reach a written report.
const canary = "canary-S3cr3t-pw"

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func at(file string, line int) types.CodeLocation {
	return types.CodeLocation{FileName: file, LineNumber: line}
}

// sampleReport is a hand-built Ginkgo report covering every state, evidence,
// a gmeasure experiment, suite-level nodes and the canary secret in every
// free-text place.
func sampleReport() types.Report {
	exp := gmeasure.NewExperiment("provisioning")
	for i := 1; i <= 100; i++ {
		exp.RecordValue("bind latency", float64(i), gmeasure.Units("ms"))
	}
	for i := 1; i <= 10; i++ {
		exp.RecordDuration("attach", time.Duration(i)*100*time.Millisecond)
	}
	exp.RecordNote("notes are not measurements")

	return types.Report{
		SuiteDescription: "vsconform",
		StartTime:        t0,
		EndTime:          t0.Add(5 * time.Minute),
		SuiteConfig: types.SuiteConfig{
			LabelFilter:  "csi || cloudprovider",
			FocusStrings: []string{"volume", "node"},
		},
		SpecReports: types.SpecReports{
			{
				ContainerHierarchyTexts:  []string{"CSI", "provisioning"},
				ContainerHierarchyLabels: [][]string{{"csi"}, {"provisioning"}},
				LeafNodeType:             types.NodeTypeIt,
				LeafNodeText:             "binds a volume",
				LeafNodeLabels:           []string{"fast", "csi"},
				LeafNodeLocation:         at("/work/main/suites/csi/provisioning.go", 40),
				State:                    types.SpecStatePassed,
				StartTime:                t0.Add(time.Second),
				RunTime:                  2 * time.Second,
				ReportEntries: types.ReportEntries{
					{Name: exp.Name, Value: types.WrapEntryValue(exp)},
				},
				CapturedGinkgoWriterOutput: "created pvc-1\n",
			},
			{
				ContainerHierarchyTexts:  []string{"CSI", "attach"},
				ContainerHierarchyLabels: [][]string{{"csi"}, nil},
				LeafNodeType:             types.NodeTypeIt,
				LeafNodeText:             "attaches with user pw " + canary,
				LeafNodeLocation:         at("/work/main/suites/csi/attach.go", 70),
				State:                    types.SpecStateFailed,
				StartTime:                t0.Add(3 * time.Second),
				RunTime:                  1500 * time.Millisecond,
				Failure: types.Failure{
					Message:  "\x1b[1mvolume not attached\x1b[0m: login as admin/" + canary + " refused <&>",
					Location: at("/work/main/suites/csi/attach.go", 77),
				},
				ReportEntries: types.ReportEntries{
					{Name: "evidence:kubernetes:PVC events", Value: types.WrapEntryValue("Warning FailedAttach: secret " + canary + " <script>alert(1)</script>")},
					{Name: "evidence:vcenter:Recent tasks", Value: types.WrapEntryValue([]byte("AttachDisk failed ]]> for " + canary))},
					{Name: "unrelated entry", Value: types.WrapEntryValue(canary)},
				},
				CapturedGinkgoWriterOutput: "connecting to https://admin:" + url.QueryEscape(canary) + "@vc.example\n",
			},
			{
				ContainerHierarchyTexts:  []string{"Cloud provider"},
				ContainerHierarchyLabels: [][]string{{"cloudprovider"}},
				LeafNodeType:             types.NodeTypeIt,
				LeafNodeText:             "labels zones",
				LeafNodeLocation:         at("/work/main/suites/cloudprovider/zones.go", 12),
				State:                    types.SpecStateSkipped,
				Failure:                  types.Failure{Message: "target has no zones", Location: at("/work/main/suites/cloudprovider/zones.go", 14)},
			},
			{
				ContainerHierarchyTexts:  []string{"Cloud provider"},
				ContainerHierarchyLabels: [][]string{{"cloudprovider"}},
				LeafNodeType:             types.NodeTypeIt,
				LeafNodeText:             "handles node deletion",
				LeafNodeLocation:         at("/work/main/suites/cloudprovider/nodes.go", 30),
				State:                    types.SpecStatePending,
			},
			{
				ContainerHierarchyTexts: []string{"CSI", "snapshots"},
				LeafNodeType:            types.NodeTypeIt,
				LeafNodeText:            "restores a snapshot",
				LeafNodeLocation:        at("/work/main/suites/csi/snapshots.go", 20),
				State:                   types.SpecStatePanicked,
				StartTime:               t0.Add(5 * time.Second),
				RunTime:                 300 * time.Millisecond,
				Failure: types.Failure{
					Message:         "Test Panicked",
					ForwardedPanic:  "nil map write",
					Location:        types.CodeLocation{FileName: "/work/main/suites/csi/snapshots.go", LineNumber: 25, FullStackTrace: "main.restore()\n\tsnapshots.go:25"},
					FailureNodeType: types.NodeTypeJustBeforeEach,
				},
			},
			{
				LeafNodeType:     types.NodeTypeBeforeSuite,
				LeafNodeLocation: at("/work/main/suites/csi/suite.go", 10),
				State:            types.SpecStatePassed,
			},
			{
				LeafNodeType:     types.NodeTypeAfterSuite,
				LeafNodeLocation: at("/work/main/suites/csi/suite.go", 20),
				State:            types.SpecStateFailed,
				StartTime:        t0.Add(4 * time.Minute),
				RunTime:          time.Second,
				Failure:          types.Failure{Message: "cleanup left 2 volumes", Location: at("/work/main/suites/csi/suite.go", 22)},
			},
			{
				ContainerHierarchyTexts: []string{"Smoke"},
				LeafNodeType:            types.NodeTypeIt,
				LeafNodeText:            "reaches vCenter",
				LeafNodeLocation:        at("/work/main/e2e/smoke.go", 5),
				State:                   types.SpecStateTimedout,
				StartTime:               t0.Add(6 * time.Second),
				RunTime:                 30 * time.Second,
				Failure: types.Failure{Message: "A spec timeout occurred", Location: at("/work/main/e2e/smoke.go", 9),
					AdditionalFailure: &types.AdditionalFailure{State: types.SpecStateFailed,
						Failure: types.Failure{Message: "vCenter login: last: connection refused"}}},
			},
		},
	}
}

// sampleRun is the sample report converted, as vsconform would do it.
func sampleRun() Run {
	run := FromGinkgo(sampleReport(), "20260301-100000", "https://administrator@vsphere.local:"+canary+"@vc.example/sdk")
	run.Logs = []string{"logs/csi-controller.log", "logs/vcsim.log"}
	return run
}
