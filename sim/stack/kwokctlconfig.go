package stack

import (
	"sigs.k8s.io/yaml"
)

// kwokManagedSelector selects the Nodes whose "kubelet" kwok plays: every
// Node the stack and the target's fake nodes register carries it, and
// removing it is how a spec stops a fake node's kubelet.
const kwokManagedSelector = "kwok.x-k8s.io/node=fake"

// Node heartbeat timing of the hermetic cluster. kwokctl's defaults (times
// its heartbeat factor 5) leave a silent node Ready for 200 s; these keep the
// kubelet/kcm proportions (lease renewed every duration/4, grace > 2
// renewals) but let a node whose kubelet stops go NotReady within about
// 20 s, so the cloud node lifecycle controller sees a powered-off VM's node
// the way it would on a real cluster.
const (
	nodeLeaseDurationSeconds      = 20    // kwok renews every 5 s
	nodeStatusUpdateMilliseconds  = 10000 // status heartbeat when the lease is not used
	nodeMonitorPeriodMilliseconds = 2000  // kcm's node health check period
	nodeMonitorGraceMilliseconds  = 20000 // kcm: no heartbeat for this long -> Ready=Unknown
)

// kwokctlConfig renders the KwokctlConfiguration of the hermetic cluster
// (sigs.k8s.io/kwok v0.7.0 pkg/apis/config/v1alpha1). The binary runtime
// starts kwok with --manage-all-nodes=true; the patch turns that off and
// selects nodes by annotation, as kwokctl's kind runtime does.
//
// The API server gets a client certificate for kubelets (kwokctl's admin
// certificate, signed by the cluster CA the real kubelets trust) and dials
// them by InternalIP, so logs and exec reach a real node.
func kwokctlConfig(apiPort int, bin func(string) string, pkiDir string) string {
	one := 1.0
	cfg := map[string]any{
		"kind":       "KwokctlConfiguration",
		"apiVersion": "config.kwok.x-k8s.io/v1alpha1",
		"options": map[string]any{
			"runtime":                     "binary",
			"bindAddress":                 "127.0.0.1",
			"kubeApiserverPort":           apiPort,
			"kubeApiserverBinary":         bin("kube-apiserver"),
			"kubeControllerManagerBinary": bin("kube-controller-manager"),
			"kubeSchedulerBinary":         bin("kube-scheduler"),
			"kwokControllerBinary":        bin("kwok"),
			"etcdBinary":                  bin("etcd"),
			// Pods on real nodes verify the API server at the kubernetes Service's IP.
			"kubeApiserverCertSANs": []any{KubernetesServiceIP},
			"disableQPSLimits":      true,
			// 1 keeps the timings below as written (kwokctl multiplies them by it).
			"heartbeatFactor":                                         one,
			"nodeLeaseDurationSeconds":                                nodeLeaseDurationSeconds,
			"nodeStatusUpdateFrequencyMilliseconds":                   nodeStatusUpdateMilliseconds,
			"kubeControllerManagerNodeMonitorPeriodMilliseconds":      nodeMonitorPeriodMilliseconds,
			"kubeControllerManagerNodeMonitorGracePeriodMilliseconds": nodeMonitorGraceMilliseconds,
		},
		"componentsPatches": []any{map[string]any{
			"name": "kube-apiserver",
			"extraArgs": []any{
				map[string]any{"key": "kubelet-client-certificate", "value": pkiDir + "/admin.crt"},
				map[string]any{"key": "kubelet-client-key", "value": pkiDir + "/admin.key"},
				map[string]any{"key": "kubelet-preferred-address-types", "value": "InternalIP"},
				map[string]any{"key": "service-cluster-ip-range", "value": ServiceCIDR},
			},
		}, map[string]any{
			"name": "kwok-controller",
			"extraArgs": []any{
				map[string]any{"key": "manage-all-nodes", "value": "false", "override": true},
				map[string]any{"key": "manage-nodes-with-annotation-selector", "value": kwokManagedSelector},
			},
		}},
	}
	data, _ := yaml.Marshal(cfg) // plain maps of strings, numbers and bools always marshal
	return string(data)
}
