package desktop

import "fmt"

// Rule is one kind of finding: its stable ID, a short name, the severity
// and how to fix it.
type Rule struct {
	ID       string
	Name     string
	Severity Severity
	Fix      string
}

// Rules, in ID order. IDs never change meaning; new rules get new IDs.
var (
	RuleFileMissing = Rule{"DK001", "file-missing", SeverityError,
		"check the path (or pass it with the matching flag); the file is written when the product is installed and configured"}
	RuleFileMalformed = Rule{"DK002", "file-malformed", SeverityError,
		"fix the line named in the message, or let the tool that owns the file rewrite it (Virtual Network Editor, vmnet-cli --configure, minikube config, kubectl apply)"}
	RuleVMnetMissing = Rule{"DK010", "vmnet-not-configured", SeverityError,
		"configure the network in the Virtual Network Editor (Workstation) or networking + vmnet-cli --configure (Fusion): NAT, subnet 192.168.99.0/24, local DHCP on; or pass --vmnet"}
	RuleDHCPDisabled = Rule{"DK011", "dhcp-disabled", SeverityError,
		"enable \"Use local DHCP service\" for the network (Linux/Fusion: answer VNET_N_DHCP yes) with a range such as .128-.254: the minikube VM gets its address by DHCP and never boots into the cluster without a lease"}
	RuleDHCPRange = Rule{"DK012", "dhcp-range-outside-subnet", SeverityError,
		"set the DHCP range inside the network's subnet, e.g. 192.168.99.128-192.168.99.254 for 192.168.99.0/24"}
	RuleSubnetMismatch = Rule{"DK013", "dhcp-subnet-mismatch", SeverityError,
		"the DHCP server's subnet differs from the network's: re-apply the network settings (Linux: vmware-networks --stop/--start after editing; Fusion: vmnet-cli --configure) so dhcpd.conf is regenerated"}
	RuleDriver = Rule{"DK020", "driver-not-vmware", SeverityError,
		"minikube config set driver vmware, then minikube delete && minikube start (the driver of an existing profile cannot change)"}
	RuleResourcesMinimum = Rule{"DK021", "resources-below-minimum", SeverityError,
		"minikube config set cpus 4 && minikube config set memory 8192, then recreate the cluster (minikube delete && minikube start)"}
	RuleResourcesAddons = Rule{"DK022", "resources-small-for-addons", SeverityWarning,
		"give the VM more memory (minikube config set memory 8192, then recreate the cluster), or disable addons you do not need"}
	RuleNodeOutside = Rule{"DK030", "node-ip-outside-subnet", SeverityError,
		"the VM is on another network: make sure minikube uses the vmnet you configured (NAT is vmnet8), then minikube delete && minikube start"}
	RuleNodeNoIP = Rule{"DK031", "node-ip-missing", SeverityWarning,
		"the VM has no address yet: start it (minikube start) and check that the network's DHCP service runs and hands out leases"}
	RulePoolMissing = Rule{"DK040", "metallb-pool-missing", SeverityError,
		"minikube addons configure metallb (start 192.168.99.105, end 192.168.99.120), or create an IPAddressPool with that range"}
	RulePoolOutside = Rule{"DK041", "pool-outside-subnet", SeverityError,
		"choose pool addresses inside the network's subnet, outside its DHCP range, e.g. 192.168.99.105-192.168.99.120: MetalLB's layer 2 mode answers ARP only on the nodes' own network"}
	RulePoolDHCP = Rule{"DK042", "pool-overlaps-dhcp", SeverityError,
		"move the pool below the DHCP range (e.g. 192.168.99.105-192.168.99.120 with DHCP at .128-.254), or shrink the DHCP range: the DHCP server would lease the same addresses to VMs"}
	RulePoolGateway = Rule{"DK043", "pool-overlaps-reserved", SeverityError,
		"keep the pool clear of the network address, the host adapter (.1), the NAT gateway (.2) and the broadcast address"}
	RulePoolNode = Rule{"DK044", "pool-overlaps-node", SeverityError,
		"move the pool off the node's address: MetalLB would hand the node's own IP to a Service"}
	RulePoolInvalid = Rule{"DK045", "pool-address-invalid", SeverityError,
		"write each address entry as A.B.C.D-E.F.G.H or a CIDR; MetalLB rejects the whole config otherwise"}
	RuleMetalLBAddon = Rule{"DK050", "metallb-addon-disabled", SeverityWarning,
		"minikube addons enable metallb: without a load balancer a Service of type LoadBalancer stays <pending>"}
	RuleDashboardAddon = Rule{"DK051", "dashboard-addon-disabled", SeverityInfo,
		"minikube addons enable dashboard, if you want the talk's dashboard"}
)

// AllRules lists every rule, for docs and tests.
var AllRules = []Rule{
	RuleFileMissing, RuleFileMalformed, RuleVMnetMissing, RuleDHCPDisabled, RuleDHCPRange, RuleSubnetMismatch,
	RuleDriver, RuleResourcesMinimum, RuleResourcesAddons, RuleNodeOutside, RuleNodeNoIP,
	RulePoolMissing, RulePoolOutside, RulePoolDHCP, RulePoolGateway, RulePoolNode, RulePoolInvalid,
	RuleMetalLBAddon, RuleDashboardAddon,
}

// finding makes a Finding of rule r.
func (r Rule) finding(file, format string, args ...any) Finding {
	return Finding{ID: r.ID, Name: r.Name, Severity: r.Severity, File: file, Message: fmt.Sprintf(format, args...), Fix: r.Fix}
}

// Resource thresholds.
//
// MinCPUs and MinMemoryMiB are minikube's own floor: `minikube start`
// refuses fewer than 2 CPUs (kubeadm's preflight needs 2) and less than
// 1800 MB ("less than the usable minimum").
//
// BaseMemoryMiB is minikube's default allocation for a VM, enough for the
// control plane alone; AddonMemoryMiB is what each addon of the talk adds
// on top (dashboard: kubernetes-dashboard + dashboard-metrics-scraper;
// metallb: controller + speaker), rounded up with headroom for
// hello-minikube. Below the sum the VM runs, but pods get evicted or stay
// Pending under memory pressure.
const (
	MinCPUs       = 2
	MinMemoryMiB  = 1800
	BaseMemoryMiB = 2200
)

// AddonMemoryMiB is the memory budget of each addon the talk uses.
var AddonMemoryMiB = map[string]int{
	"dashboard": 512,
	"metallb":   256,
}
