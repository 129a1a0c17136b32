package desktop

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestParseRange(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: "192.168.99.105-192.168.99.120", want: "192.168.99.105-192.168.99.120"},
		{in: " 192.168.99.105 - 192.168.99.120 ", want: "192.168.99.105-192.168.99.120"},
		{in: "192.168.99.96/28", want: "192.168.99.96-192.168.99.111"},
		{in: "192.168.99.100/28", want: "192.168.99.96-192.168.99.111"}, // MetalLB masks it
		{in: "192.168.99.7", want: "192.168.99.7"},
		{in: "192.168.99.7/32", want: "192.168.99.7"},
		{in: "fc00::/126", want: "fc00::-fc00::3"},
		{in: "192.168.99.120-192.168.99.105", err: "ends before it starts"},
		{in: "192.168.99.1-fc00::1", err: "mixes IPv4 and IPv6"},
		{in: "192.168.99.x-192.168.99.9", err: "bad start"},
		{in: "192.168.99.0/33", err: "bad CIDR"},
		{in: "pool", err: "not an address"},
	} {
		r, err := ParseRange(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseRange(%q) error = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || r.String() != tc.want {
			t.Errorf("ParseRange(%q) = %v, %v; want %s", tc.in, r, err, tc.want)
		}
	}
}

func TestRangeRelations(t *testing.T) {
	r := must(ParseRange("192.168.99.105-192.168.99.120"))
	dhcp := must(ParseRange("192.168.99.128-192.168.99.254"))
	if r.Overlaps(dhcp) || !r.Overlaps(must(ParseRange("192.168.99.120-192.168.99.128"))) {
		t.Error("Overlaps is wrong at the edges")
	}
	if !r.Within(netip.MustParsePrefix("192.168.99.0/24")) || r.Within(netip.MustParsePrefix("192.168.99.0/26")) {
		t.Error("Within is wrong")
	}
	if !r.Contains(netip.MustParseAddr("192.168.99.120")) || r.Contains(netip.MustParseAddr("192.168.99.121")) {
		t.Error("Contains is wrong at the edge")
	}
}

func TestSubnetOf(t *testing.T) {
	for _, tc := range []struct{ net, mask, want, err string }{
		{"192.168.99.0", "255.255.255.0", "192.168.99.0/24", ""},
		{"172.16.0.0", "255.255.0.0", "172.16.0.0/16", ""},
		{"192.168.99.0", "255.0.255.0", "", "not contiguous"},
		{"192.168.99.1", "255.255.255.0", "", "host bits"},
		{"192.168.99", "255.255.255.0", "", "not an IPv4 address"},
	} {
		p, err := subnetOf(tc.net, tc.mask)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("subnetOf(%s, %s) error = %v, want %q", tc.net, tc.mask, err, tc.err)
			}
			continue
		}
		if err != nil || p.String() != tc.want {
			t.Errorf("subnetOf(%s, %s) = %v, %v", tc.net, tc.mask, p, err)
		}
	}
}

func TestParseNetworking(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		vmnet    int
		subnet   string
		dhcp     bool
		nat      bool
		err      string
	}{
		{name: "workstation linux", vmnet: 8, subnet: "192.168.99.0/24", dhcp: true, nat: true, in: `VERSION=1,0
answer VNET_1_DHCP yes
answer VNET_1_HOSTONLY_NETMASK 255.255.255.0
answer VNET_1_HOSTONLY_SUBNET 172.16.134.0
answer VNET_8_DHCP yes
answer VNET_8_DHCP_CFG_HASH 2C4B0E9B1A0D7F8E3D6C5B4A39281706F5E4D3C2
answer VNET_8_DISPLAY_NAME 
answer VNET_8_HOSTONLY_NETMASK 255.255.255.0
answer VNET_8_HOSTONLY_SUBNET 192.168.99.0
answer VNET_8_NAT yes
answer VNET_8_NAT_PARAM_UDP_TIMEOUT 30
answer VNET_8_VIRTUAL_ADAPTER yes
answer VNL_DEFAULT_BRIDGE_VNET -1
add_bridge_mapping eth0 0
add_nat_portfwd 8 tcp 2222 192.168.99.130 22
`},
		{name: "fusion host-only, dhcp off", vmnet: 1, subnet: "192.168.101.0/24", in: `VERSION=1,0
answer VNET_1_DHCP no
answer VNET_1_HOSTONLY_NETMASK 255.255.255.0
answer VNET_1_HOSTONLY_SUBNET 192.168.101.0
answer VNET_1_HOSTONLY_UUID F59B07C6-BD33-4131-A16B-A4C58941131D
`},
		{name: "crlf", vmnet: 8, subnet: "192.168.99.0/24", dhcp: true, in: "VERSION=1,0\r\nanswer VNET_8_DHCP yes\r\nanswer VNET_8_HOSTONLY_SUBNET 192.168.99.0\r\nanswer VNET_8_HOSTONLY_NETMASK 255.255.255.0\r\n"},
		{name: "not answer", in: "VERSION=1,0\nVNET_8_DHCP=yes\n", err: "line 2"},
		{name: "bad yes/no", in: "answer VNET_8_DHCP maybe\n", err: "not yes or no"},
		{name: "empty", in: "\n# nothing\n", err: "not a VMware networking file"},
		{name: "json", in: `{"a": 1}`, err: "line 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := ParseNetworking([]byte(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			v := n.VNets[tc.vmnet]
			if v == nil {
				t.Fatalf("no vmnet%d in %+v", tc.vmnet, n.VNets)
			}
			p, err := v.Prefix()
			if err != nil || p.String() != tc.subnet || v.DHCP != tc.dhcp || v.NAT != tc.nat {
				t.Errorf("vmnet%d = %s %v dhcp=%v nat=%v", tc.vmnet, p, err, v.DHCP, v.NAT)
			}
		})
	}
}

const windowsDHCP = `allow unknown-clients;
default-lease-time 1800;                # 30 minutes

# Virtual ethernet segment 1
subnet 192.168.56.0 netmask 255.255.255.0 {
range 192.168.56.128 192.168.56.254;            # default allows up to 125 VM's
option domain-name "localdomain";
}
host VMnet1 {
    hardware ethernet 00:50:56:C0:00:01;
    fixed-address 192.168.56.1;
    option domain-name "";
}
# End

# Virtual ethernet segment 8
# Added at 03/14/25 19:02:11
subnet 192.168.99.0 netmask 255.255.255.0 {
range 192.168.99.128 192.168.99.254;            # default allows up to 125 VM's
option netbios-name-servers 192.168.99.2;
option routers 192.168.99.2;
}
host VMnet8 {
    hardware ethernet 00:50:56:C0:00:08;
    fixed-address 192.168.99.1;
    option routers 0.0.0.0;
}
host minikube {
    hardware ethernet 00:0C:29:5A:11:D4;
    fixed-address 192.168.99.110;
}
# End
`

func TestParseDHCPConf(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		vmnet    int
		subnet   string
		ranges   []string
		routers  []string
		host     string
		err      string
	}{
		{name: "windows vmnetdhcp.conf segment 8", in: windowsDHCP, vmnet: 8, subnet: "192.168.99.0/24",
			ranges: []string{"192.168.99.128-192.168.99.254"}, routers: []string{"192.168.99.2"}, host: "192.168.99.1"},
		{name: "windows vmnetdhcp.conf segment 1", in: windowsDHCP, vmnet: 1, subnet: "192.168.56.0/24",
			ranges: []string{"192.168.56.128-192.168.56.254"}, host: "192.168.56.1"},
		{name: "linux dhcpd.conf", vmnet: 8, subnet: "192.168.99.0/24", ranges: []string{"192.168.99.128-192.168.99.254"},
			routers: []string{"192.168.99.2"}, host: "192.168.99.1", in: `allow unknown-clients;
subnet 192.168.99.0 netmask 255.255.255.0 {
	range 192.168.99.128 192.168.99.254;
	option domain-name localdomain;
	option routers 192.168.99.2;
}
host vmnet8 {
	hardware ethernet 00:50:56:C0:00:08;
	fixed-address 192.168.99.1;
	option domain-name "";
}
`},
		{name: "two ranges and routers list", vmnet: 8, subnet: "10.8.0.0/16",
			ranges: []string{"10.8.1.10-10.8.1.20", "10.8.2.5"}, routers: []string{"10.8.0.1", "10.8.0.2"}, in: `subnet 10.8.0.0 netmask 255.255.0.0 {
  range 10.8.1.10 10.8.1.20; range dynamic-bootp 10.8.2.5;
  option routers 10.8.0.1, 10.8.0.2;
}`},
		{name: "no semicolon", in: "subnet 192.168.99.0 netmask 255.255.255.0 {\nrange 192.168.99.128 192.168.99.254\n}\n", err: "has no ;"},
		{name: "unclosed", in: "subnet 192.168.99.0 netmask 255.255.255.0 {\nrange 192.168.99.128 192.168.99.254;\n", err: "line 1: block is not closed"},
		{name: "stray brace", in: "}\n", err: "unexpected }"},
		{name: "bad range", in: "subnet 192.168.99.0 netmask 255.255.255.0 {\nrange 192.168.99.300 192.168.99.254;\n}\n", err: "line 2: range"},
		{name: "reversed range", in: "subnet 192.168.99.0 netmask 255.255.255.0 {\nrange 192.168.99.254 192.168.99.128;\n}\n", err: "ends before"},
		{name: "bad netmask", in: "subnet 192.168.99.0 netmask 255.0.255.0 {\n}\n", err: "not contiguous"},
		{name: "unterminated string", in: "option domain-name \"local;\n", err: "unterminated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseDHCPConf([]byte(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			sub, ok := c.SubnetFor(tc.vmnet)
			if !ok {
				t.Fatalf("no subnet for vmnet%d in %+v", tc.vmnet, c.Subnets)
			}
			var ranges, routers []string
			for _, r := range sub.Ranges {
				ranges = append(ranges, r.String())
			}
			for _, r := range sub.Routers {
				routers = append(routers, r.String())
			}
			if sub.Prefix.String() != tc.subnet || !slices.Equal(ranges, tc.ranges) || !slices.Equal(routers, tc.routers) {
				t.Errorf("subnet %s ranges %v routers %v", sub.Prefix, ranges, routers)
			}
			h, ok := c.HostAdapter(tc.vmnet)
			if got := ""; ok {
				got = h.FixedAddress.String()
				if got != tc.host {
					t.Errorf("host adapter = %s, want %s", got, tc.host)
				}
			} else if tc.host != "" {
				t.Errorf("no host adapter, want %s", tc.host)
			}
		})
	}
}

func TestParseMinikubeConfig(t *testing.T) {
	for _, tc := range []struct {
		in        string
		driver    string
		cpus, mem int
		profile   string
		err       string
	}{
		{in: `{"cpus": 4, "driver": "vmware", "memory": "8192"}`, driver: "vmware", cpus: 4, mem: 8192},
		{in: `{"cpus": "4", "driver": "vmware", "memory": 8192, "profile": "talk"}`, driver: "vmware", cpus: 4, mem: 8192, profile: "talk"},
		{in: `{"vm-driver": "vmwarefusion", "memory": "8g"}`, driver: "vmwarefusion", mem: 8192},
		{in: `{"memory": "6gb"}`, mem: 6144},
		{in: `{"memory": "4096MB"}`, mem: 4096},
		{in: `{"memory": "2GiB"}`, mem: 2048},
		{in: `{"memory": "max", "cpus": "max"}`},
		{in: `{}`},
		{in: `{"memory": "lots"}`, err: "memory"},
		{in: `{"cpus": true}`, err: "cpus"},
		{in: `{"cpus": 4,`, err: "not a JSON object"},
	} {
		c, err := ParseMinikubeConfig([]byte(tc.in))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if c.Driver != tc.driver || c.CPUs != tc.cpus || c.MemoryMiB != tc.mem || c.Profile != tc.profile {
			t.Errorf("%s: got %+v", tc.in, c)
		}
	}
}

func TestParseMinikubeProfile(t *testing.T) {
	for _, tc := range []struct {
		in       string
		driver   string
		ips      []string
		lb       string
		lbSet    bool
		addons   []string
		err      string
		rangeErr bool
	}{
		{in: `{"Name":"minikube","Driver":"vmware","CPUs":4,"Memory":8192,
			"KubernetesConfig":{"LoadBalancerStartIP":"192.168.99.105","LoadBalancerEndIP":"192.168.99.120"},
			"Nodes":[{"Name":"","IP":"192.168.99.130","Port":8443,"ControlPlane":true,"Worker":true}],
			"Addons":{"dashboard":true,"metallb":true,"storage-provisioner":false}}`,
			driver: "vmware", ips: []string{"192.168.99.130"}, lb: "192.168.99.105-192.168.99.120", lbSet: true, addons: []string{"dashboard", "metallb"}},
		{in: `{"Name":"old","VMDriver":"vmware","Nodes":[{"IP":""}]}`, driver: "vmware", ips: []string{""}},
		{in: `{"Name":"x","Driver":"vmware","KubernetesConfig":{"LoadBalancerStartIP":"192.168.99.105","LoadBalancerEndIP":""}}`, driver: "vmware", lbSet: true, rangeErr: true},
		{in: `{"Name":"x","Nodes":[{"IP":"192.168.99"}]}`, err: "Nodes[0].IP"},
		{in: `{"foo": 1}`, err: "no Name, Driver or Nodes"},
		{in: `[]`, err: "not a minikube profile"},
	} {
		p, err := ParseMinikubeProfile([]byte(tc.in))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%.40s: error = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%.40s: %v", tc.in, err)
			continue
		}
		var ips, addons []string
		for _, n := range p.Nodes {
			ips = append(ips, n.IP)
		}
		for a, on := range p.Addons {
			if on {
				addons = append(addons, a)
			}
		}
		slices.Sort(addons)
		r, set, rerr := p.LoadBalancerRange()
		if p.DriverName() != tc.driver || !slices.Equal(ips, tc.ips) || !slices.Equal(addons, tc.addons) || set != tc.lbSet || (rerr != nil) != tc.rangeErr {
			t.Errorf("%.40s: got driver %q ips %v addons %v lb %v/%v/%v", tc.in, p.DriverName(), ips, addons, r, set, rerr)
		}
		if tc.lb != "" && r.String() != tc.lb {
			t.Errorf("lb range = %s, want %s", r, tc.lb)
		}
	}
}

func TestParseMetalLB(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string // "name source: ranges | invalid"
		err      string
	}{
		{name: "legacy configmap", in: `apiVersion: v1
kind: ConfigMap
metadata: {name: config, namespace: metallb-system}
data:
  config: |
    address-pools:
    - name: default
      protocol: layer2
      addresses:
      - 192.168.99.105-192.168.99.120
    - name: extra
      protocol: layer2
      addresses: [192.168.99.96/29, bogus]
`, want: []string{"default ConfigMap metallb-system/config: [192.168.99.105-192.168.99.120] []",
			`extra ConfigMap metallb-system/config: [192.168.99.96-192.168.99.103] [range "bogus": not an address, a-b range or CIDR]`}},
		{name: "pools and l2advertisement", in: `apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: a, namespace: metallb-system}
spec:
  addresses: ["192.168.99.105 - 192.168.99.110"]
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: l2}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: b}
spec:
  addresses: ["192.168.99.111-192.168.99.120"]
`, want: []string{"a IPAddressPool: [192.168.99.105-192.168.99.110] []", "b IPAddressPool: [192.168.99.111-192.168.99.120] []"}},
		{name: "kubectl list", in: `apiVersion: v1
kind: List
items:
- apiVersion: metallb.io/v1beta1
  kind: IPAddressPool
  metadata: {name: a}
  spec: {addresses: [192.168.99.105-192.168.99.120]}
`, want: []string{"a IPAddressPool: [192.168.99.105-192.168.99.120] []"}},
		{name: "no pools", in: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\n", err: "no IPAddressPool"},
		{name: "bad yaml", in: "kind: [\n", err: "document 1"},
		{name: "bad legacy config", in: "kind: ConfigMap\nmetadata: {name: config}\ndata:\n  config: |\n    address-pools: {\n", err: "data.config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pools, err := ParseMetalLB([]byte(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range pools {
				var rs []string
				for _, r := range p.Ranges {
					rs = append(rs, r.String())
				}
				got = append(got, p.Name+" "+p.Source+": ["+strings.Join(rs, " ")+"] ["+strings.Join(p.Invalid, " ")+"]")
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("pools:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestHostPaths(t *testing.T) {
	env := func(m map[string]string) Env { return func(k string) string { return m[k] } }
	for _, tc := range []struct {
		name     string
		p        Platform
		env      map[string]string
		net, dhc string
		home     string
	}{
		{"windows", WorkstationWindows, map[string]string{"PROGRAMDATA": `D:\PD`, "USERPROFILE": `C:\Users\ada`}, "", `D:\PD\VMware\vmnetdhcp.conf`, `C:\Users\ada\.minikube`},
		{"windows defaults", WorkstationWindows, map[string]string{"USERPROFILE": `C:\Users\ada`, "MINIKUBE_HOME": `E:\mk`}, "", `C:\ProgramData\VMware\vmnetdhcp.conf`, `E:\mk\.minikube`},
		{"linux", WorkstationLinux, map[string]string{"HOME": "/home/ada"}, "/etc/vmware/networking", "/etc/vmware/vmnet8/dhcpd/dhcpd.conf", "/home/ada/.minikube"},
		{"linux MINIKUBE_HOME ending in .minikube", WorkstationLinux, map[string]string{"HOME": "/home/ada", "MINIKUBE_HOME": "/data/.minikube"}, "/etc/vmware/networking", "/etc/vmware/vmnet8/dhcpd/dhcpd.conf", "/data/.minikube"},
		{"fusion", Fusion, map[string]string{"HOME": "/Users/ada"}, "/Library/Preferences/VMware Fusion/networking", "/Library/Preferences/VMware Fusion/vmnet8/dhcpd.conf", "/Users/ada/.minikube"},
	} {
		got := HostPaths(tc.p, 8, env(tc.env))
		if got.Networking != tc.net || got.DHCPConf != tc.dhc || got.MinikubeHome != tc.home {
			t.Errorf("%s: %+v", tc.name, got)
		}
	}
	if got := RootPaths(WorkstationWindows, 8); got.DHCPConf != "ProgramData/VMware/vmnetdhcp.conf" || got.MinikubeHome != "home/.minikube" {
		t.Errorf("RootPaths(windows) = %+v", got)
	}
	if got := RootPaths(Fusion, 1); got.Networking != "Library/Preferences/VMware Fusion/networking" || got.DHCPConf != "Library/Preferences/VMware Fusion/vmnet1/dhcpd.conf" {
		t.Errorf("RootPaths(fusion) = %+v", got)
	}
	for goos, want := range map[string]Platform{"windows": WorkstationWindows, "linux": WorkstationLinux, "darwin": Fusion} {
		if p, err := PlatformFor(goos); err != nil || p != want {
			t.Errorf("PlatformFor(%s) = %s, %v", goos, p, err)
		}
	}
	if _, err := PlatformFor("plan9"); err == nil {
		t.Error("PlatformFor(plan9) succeeded")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
