package stack

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// iniQuote quotes a value for the gcfg INI files both vSphere components read.
func iniQuote(v string) string {
	return strconv.Quote(v)
}

// csiConfig renders the vSphere CSI driver's config (csi-vsphere.conf). The
// vCenter is ours, on loopback, with a certificate the simulator made at
// start, so TLS verification is off for the driver (the runner itself
// verifies against the CA file).
func csiConfig(vc VCenter, password, clusterID string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[Global]\ncluster-id = %s\ncluster-distribution = \"Vanilla\"\ninsecure-flag = \"true\"\n\n", iniQuote(clusterID))
	fmt.Fprintf(&b, "[VirtualCenter %s]\nuser = %s\npassword = %s\nport = %s\ndatacenters = %s\n",
		iniQuote(vc.Host), iniQuote(vc.Username), iniQuote(password), iniQuote(strconv.Itoa(vc.Port)),
		iniQuote(strings.Join(vc.Datacenters, ",")))
	// The driver reads zones and regions from these vSphere tag categories
	// (labels topology.csi.vmware.com/<category>), as the vanilla manifest's
	// commented [Labels] section describes.
	if len(vc.TopologyCategories) > 0 {
		fmt.Fprintf(&b, "\n[Labels]\ntopology-categories = %s\n", iniQuote(strings.Join(vc.TopologyCategories, ",")))
	}
	return b.String()
}

// Tag categories the CPI and the CSI driver read zones and regions from.
const (
	regionCategory = "k8s-region"
	zoneCategory   = "k8s-zone"
)

// topologyCategories are the region and zone categories the model defines,
// region first: the CSI driver's topology-categories.
func topologyCategories(defined []string) []string {
	var out []string
	for _, c := range []string{regionCategory, zoneCategory} {
		if slices.Contains(defined, c) {
			out = append(out, c)
		}
	}
	return out
}
