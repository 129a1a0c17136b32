// Package desktop holds the specs of the "Kubernetes on a VMware desktop
// hypervisor" setup of the talk: minikube with the vmware driver on
// Workstation or Fusion, vmnet8 on 192.168.99.0/24 with DHCP .128-.254,
// MetalLB handing out 192.168.99.105-.120, the dashboard addon and
// hello-minikube exposed as a LoadBalancer.
//
// Host checks (hostchecks.go) need no cluster: they run the desktop
// checker (package desktop, also `vsconform desktop check`) on the talk's
// setups embedded from fixtures/desktop, on every target. A user's own
// host is checked with `vsconform desktop check`, on the machine that runs
// VMware: the files live there, not where a target config may be read.
//
// Cluster checks (metallb.go, dashboard.go) need a target declaring
// capability loadBalancer: metallb; HTTP to the LoadBalancer address
// needs httpReachability.
package desktop
