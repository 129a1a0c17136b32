package desktop

import (
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Options say what to check and how to read files.
type Options struct {
	Platform Platform
	VMnet    int
	Paths    Paths
	// ReadFile reads a path of Paths: os.ReadFile on the host, an fs.FS
	// for fixtures. A not-exist error means the file is missing.
	ReadFile func(name string) ([]byte, error)
	// Join builds paths below Paths.MinikubeHome (filepath.Join on the host).
	Join func(elem ...string) string
}

// FSOptions checks a root layout (see RootPaths) inside fsys.
func FSOptions(fsys fs.FS, p Platform, vmnet int) Options {
	return Options{
		Platform: p, VMnet: vmnet, Paths: RootPaths(p, vmnet),
		ReadFile: func(name string) ([]byte, error) { return fs.ReadFile(fsys, name) },
		Join:     path.Join,
	}
}

// network is what the checks know about the vmnet.
type network struct {
	subnet   netip.Prefix // zero when unknown
	dhcp     []Range
	reserved map[netip.Addr]string // address -> what it is
}

// checker accumulates findings.
type checker struct {
	o        Options
	findings []Finding
}

func (c *checker) add(f Finding) { c.findings = append(c.findings, f) }

// read returns a file's bytes, or nil after adding a missing-file finding
// (unless optional).
func (c *checker) read(name, what string, optional bool) []byte {
	data, err := c.o.ReadFile(name)
	if err == nil {
		return data
	}
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, os.ErrNotExist) {
		if !optional {
			c.add(RuleFileMissing.finding(name, "%s not found", what))
		}
		return nil
	}
	c.add(RuleFileMissing.finding(name, "%s cannot be read: %v", what, err))
	return nil
}

func (c *checker) malformed(name, what string, err error) {
	c.add(RuleFileMalformed.finding(name, "%s: %v", what, err))
}

// Check runs every check and never fails: a missing or malformed file is a
// finding like any other.
func Check(o Options) Report {
	if o.VMnet == 0 {
		o.VMnet = DefaultVMnet
	}
	if o.Join == nil {
		o.Join = path.Join
	}
	c := &checker{o: o}
	net := c.checkNetwork()
	mk := c.checkMinikube(net)
	c.checkPools(net, mk)
	r := Report{Platform: o.Platform, VMnet: o.VMnet, Findings: c.findings}
	r.sort()
	return r
}

func (c *checker) checkNetwork() network {
	n := c.o.VMnet
	net := network{reserved: map[netip.Addr]string{}}
	var natNetwork bool
	dhcpEnabled := true
	if c.o.Paths.Networking != "" {
		file := c.o.Paths.Networking
		data := c.read(file, "VMware networking file", false)
		if data == nil {
			return net
		}
		parsed, err := ParseNetworking(data)
		if err != nil {
			c.malformed(file, "VMware networking file", err)
			return net
		}
		v := parsed.VNets[n]
		if v == nil {
			c.add(RuleVMnetMissing.finding(file, "vmnet%d is not defined (no VNET_%d_* answers)", n, n))
			return net
		}
		p, err := v.Prefix()
		if err != nil {
			c.add(RuleVMnetMissing.finding(file, "%v", err))
			return net
		}
		net.subnet, natNetwork, dhcpEnabled = p, v.NAT, v.DHCP
		if !v.DHCP {
			c.add(RuleDHCPDisabled.finding(file, "VNET_%d_DHCP is %q: vmnet%d has no DHCP server, so the minikube VM gets no address", n, v.Answers["DHCP"], n))
		}
	}
	file := c.o.Paths.DHCPConf
	if file == "" || !dhcpEnabled {
		return c.conventions(net, natNetwork)
	}
	data := c.read(file, "vmnet DHCP config", false)
	if data == nil {
		return c.conventions(net, natNetwork)
	}
	conf, err := ParseDHCPConf(data)
	if err != nil {
		c.malformed(file, "vmnet DHCP config", err)
		return c.conventions(net, natNetwork)
	}
	sub, ok := conf.SubnetFor(n)
	if !ok {
		if c.o.Platform == WorkstationWindows {
			c.add(RuleVMnetMissing.finding(file, "no subnet declaration for vmnet%d (no \"# Virtual ethernet segment %d\" section)", n, n))
		} else {
			c.add(RuleDHCPDisabled.finding(file, "no subnet declaration: vmnet%d's DHCP server serves no network", n))
		}
		return c.conventions(net, natNetwork)
	}
	if !net.subnet.IsValid() {
		net.subnet = sub.Prefix // Windows: vmnetdhcp.conf is the only file
	} else if sub.Prefix != net.subnet {
		c.add(RuleSubnetMismatch.finding(file, "DHCP serves %s but vmnet%d is %s", sub.Prefix, n, net.subnet))
	}
	if len(sub.Ranges) == 0 {
		c.add(RuleDHCPDisabled.finding(file, "subnet %s has no range statement: the DHCP server hands out no addresses", sub.Prefix))
	}
	for _, r := range sub.Ranges {
		if !r.Within(net.subnet) {
			c.add(RuleDHCPRange.finding(file, "DHCP range %s is not inside %s", r, net.subnet))
		}
		net.dhcp = append(net.dhcp, r)
	}
	for _, gw := range sub.Routers {
		net.reserved[gw] = "NAT gateway (option routers)"
	}
	if h, ok := conf.HostAdapter(n); ok {
		net.reserved[h.FixedAddress] = "host adapter (host " + h.Name + ")"
	}
	if len(sub.Routers) > 0 {
		natNetwork = false // the file said where the gateway is
	}
	return c.conventions(net, natNetwork)
}

// conventions adds the addresses VMware reserves on every vmnet (the
// Workstation manual's address table: .1 host, .2 NAT device on a NAT
// network, the network and broadcast addresses) where the files did not
// name them.
func (c *checker) conventions(net network, nat bool) network {
	if !net.subnet.IsValid() || !net.subnet.Addr().Is4() {
		return net
	}
	all := prefixRange(net.subnet)
	setIfNone := func(a netip.Addr, what string) {
		for _, w := range net.reserved {
			if strings.HasPrefix(w, strings.Fields(what)[0]) {
				return
			}
		}
		net.reserved[a] = what
	}
	net.reserved[all.Start] = "network address"
	net.reserved[all.End] = "broadcast address"
	setIfNone(all.Start.Next(), "host adapter (VMware's .1)")
	if nat {
		setIfNone(all.Start.Next().Next(), "NAT gateway (VMware's .2)")
	}
	return net
}

// minikube is what the checks know about the cluster's config.
type minikube struct {
	nodes   []netip.Addr
	addons  map[string]bool
	lbRange *Range
	lbFile  string
	profile *MinikubeProfile
}

func (c *checker) checkMinikube(net network) minikube {
	var mk minikube
	join := c.o.Join
	global := &MinikubeConfig{}
	gfile := c.o.Paths.MinikubeConfigFile(join)
	if data := c.read(gfile, "minikube config", true); data != nil {
		if g, err := ParseMinikubeConfig(data); err != nil {
			c.malformed(gfile, "minikube config", err)
		} else {
			global = g
		}
	}
	name := c.o.Paths.Profile
	if name == "" {
		name = global.Profile
	}
	if name == "" {
		name = "minikube"
	}
	pfile := c.o.Paths.ProfileFile(join, name)
	var prof *MinikubeProfile
	if data := c.read(pfile, "minikube profile "+name+" (run minikube start first)", false); data != nil {
		p, err := ParseMinikubeProfile(data)
		if err != nil {
			c.malformed(pfile, "minikube profile "+name, err)
		} else {
			prof = p
		}
	}
	mk.profile = prof

	driver, cpus, mem, where := global.Driver, global.CPUs, global.MemoryMiB, gfile
	if prof != nil {
		where = pfile
		if prof.DriverName() != "" {
			driver = prof.DriverName()
		}
		if prof.CPUs > 0 {
			cpus = prof.CPUs
		}
		if prof.Memory > 0 {
			mem = prof.Memory
		}
		mk.addons = prof.Addons
	}
	switch {
	case driver == "" && prof != nil:
		c.add(RuleDriver.finding(where, "profile %s names no driver", name))
	case driver == "":
		c.add(RuleDriver.finding(where, "no driver set: minikube start would pick another driver (docker, virtualbox, ...)"))
	case driver != "vmware":
		c.add(RuleDriver.finding(where, "driver is %q, not \"vmware\"", driver))
	}
	c.checkResources(where, cpus, mem, mk.addons)

	if prof == nil {
		return mk
	}
	for i, n := range prof.Nodes {
		label := nodeLabel(prof, i)
		if n.IP == "" {
			c.add(RuleNodeNoIP.finding(pfile, "%s has no IP: the VM never got a DHCP lease, or was never started", label))
			continue
		}
		a, _ := netip.ParseAddr(n.IP)
		mk.nodes = append(mk.nodes, a)
		if net.subnet.IsValid() && !net.subnet.Contains(a) {
			c.add(RuleNodeOutside.finding(pfile, "%s has IP %s, outside vmnet%d's subnet %s", label, a, c.o.VMnet, net.subnet))
		}
	}
	if r, ok, err := prof.LoadBalancerRange(); err != nil {
		c.add(RulePoolInvalid.finding(pfile, "metallb addon range: %v", err))
		mk.lbFile = pfile
	} else if ok {
		mk.lbRange, mk.lbFile = &r, pfile
	}
	if !mk.addons["metallb"] {
		c.add(RuleMetalLBAddon.finding(pfile, "the metallb addon is not enabled in profile %s", name))
	}
	if !mk.addons["dashboard"] {
		c.add(RuleDashboardAddon.finding(pfile, "the dashboard addon is not enabled in profile %s", name))
	}
	return mk
}

func nodeLabel(p *MinikubeProfile, i int) string {
	name := p.Nodes[i].Name
	if name == "" {
		name = p.Name // the first node is named after the profile
	}
	if name == "" {
		return "node " + strconv.Itoa(i)
	}
	return "node " + name
}

func (c *checker) checkResources(file string, cpus, mem int, addons map[string]bool) {
	if cpus > 0 && cpus < MinCPUs {
		c.add(RuleResourcesMinimum.finding(file, "%d CPUs, below minikube's minimum of %d", cpus, MinCPUs))
	}
	if mem > 0 && mem < MinMemoryMiB {
		c.add(RuleResourcesMinimum.finding(file, "%d MiB of memory, below minikube's usable minimum of %d MiB", mem, MinMemoryMiB))
		return
	}
	need, names := BaseMemoryMiB, []string{}
	for _, a := range sortedKeys(AddonMemoryMiB) {
		if addons[a] {
			need += AddonMemoryMiB[a]
			names = append(names, a)
		}
	}
	if mem > 0 && len(names) > 0 && mem < need {
		c.add(RuleResourcesAddons.finding(file, "%d MiB of memory; the control plane (%d MiB) plus the %s addons need at least %d MiB",
			mem, BaseMemoryMiB, strings.Join(names, " and "), need))
	}
}

func sortedKeys(m map[string]int) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (c *checker) checkPools(net network, mk minikube) {
	var pools []Pool
	for _, f := range c.o.Paths.MetalLB {
		data := c.read(f, "MetalLB config", c.o.Paths.MetalLBOptional)
		if data == nil {
			continue
		}
		got, err := ParseMetalLB(data)
		if err != nil {
			c.malformed(f, "MetalLB config", err)
			continue
		}
		for i := range got {
			got[i].Source += " in " + f
		}
		pools = append(pools, got...)
	}
	if mk.lbRange != nil {
		pools = append(pools, Pool{Name: "metallb addon", Source: "LoadBalancerStartIP/EndIP of " + mk.lbFile, Ranges: []Range{*mk.lbRange}})
	}
	if len(pools) == 0 {
		if mk.addons["metallb"] && mk.lbFile == "" {
			c.add(RulePoolMissing.finding(mk.profileFile(c), "the metallb addon is enabled but has no address range (LoadBalancerStartIP/EndIP are empty) and no MetalLB config was given"))
		}
		return
	}
	for _, p := range pools {
		for _, inv := range p.Invalid {
			c.add(RulePoolInvalid.finding("", "%s: %s", p, inv))
		}
		if len(p.Ranges) == 0 && len(p.Invalid) == 0 {
			c.add(RulePoolMissing.finding("", "%s has no addresses", p))
		}
		for _, r := range p.Ranges {
			c.checkRange(p, r, net, mk)
		}
	}
}

func (mk minikube) profileFile(c *checker) string {
	if mk.lbFile != "" {
		return mk.lbFile
	}
	name := c.o.Paths.Profile
	if name == "" && mk.profile != nil {
		name = mk.profile.Name
	}
	if name == "" {
		name = "minikube"
	}
	return c.o.Paths.ProfileFile(c.o.Join, name)
}

func (c *checker) checkRange(p Pool, r Range, net network, mk minikube) {
	if net.subnet.IsValid() && !r.Within(net.subnet) {
		c.add(RulePoolOutside.finding("", "%s: %s is not inside vmnet%d's subnet %s", p, r, c.o.VMnet, net.subnet))
	}
	for _, d := range net.dhcp {
		if r.Overlaps(d) {
			c.add(RulePoolDHCP.finding("", "%s: %s overlaps the DHCP range %s", p, r, d))
		}
	}
	var reserved []netip.Addr
	for a := range net.reserved {
		if r.Contains(a) {
			reserved = append(reserved, a)
		}
	}
	slices.SortFunc(reserved, netip.Addr.Compare)
	for _, a := range reserved {
		c.add(RulePoolGateway.finding("", "%s: %s contains %s, the %s", p, r, a, net.reserved[a]))
	}
	for _, n := range mk.nodes {
		if r.Contains(n) {
			c.add(RulePoolNode.finding("", "%s: %s contains the node IP %s", p, r, n))
		}
	}
}
