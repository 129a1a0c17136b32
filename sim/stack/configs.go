package stack

import (
	"fmt"
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
	return b.String()
}

// cpiConfig renders the vSphere CPI's INI config, with zone and region read
// from the k8s-zone / k8s-region tag categories.
func cpiConfig(vc VCenter, password string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[Global]\ninsecure-flag = \"true\"\n\n")
	fmt.Fprintf(&b, "[VirtualCenter %s]\nuser = %s\npassword = %s\nport = %s\ndatacenters = %s\n\n",
		iniQuote(vc.Host), iniQuote(vc.Username), iniQuote(password), iniQuote(strconv.Itoa(vc.Port)),
		iniQuote(strings.Join(vc.Datacenters, ",")))
	fmt.Fprintf(&b, "[Labels]\nregion = \"k8s-region\"\nzone = \"k8s-zone\"\n")
	return b.String()
}
