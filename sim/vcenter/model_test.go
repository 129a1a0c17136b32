package vcenter

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vsphere-conformance/vsphere-conformance/fixtures"
)

// base is a small valid model; cases edit it with replace().
const base = `
vcenter: {version: "8.0.3"}
datacenters:
  - name: DC0
    tags: [{category: k8s-region, tag: region-1}]
    clusters:
      - name: cluster-a
        hosts: 2
        tags: [{category: k8s-zone, tag: zone-a}]
      - name: cluster-b
        hosts: 1
tagCategories:
  - {name: k8s-region, associableTypes: [Datacenter]}
  - {name: k8s-zone, cardinality: SINGLE, associableTypes: [ClusterComputeResource, HostSystem]}
tags:
  - {name: region-1, category: k8s-region}
  - {name: zone-a, category: k8s-zone}
  - {name: zone-b, category: k8s-zone}
nodes:
  - {name: node-a, cluster: cluster-a, ip: 10.0.0.11}
  - {name: node-b, cluster: cluster-a, ip: 10.0.0.12}
  - {name: node-c, cluster: cluster-b, ip: 10.0.0.13}
storagePolicies:
  - {name: gold}
kms: {providerID: vsconform-kms, default: true}
`

func replace(old, new string) string {
	if !strings.Contains(base, old) {
		panic("test model has no " + old)
	}
	return strings.Replace(base, old, new, 1)
}

func TestLoadModelErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown field", replace("hosts: 1", "hosts: 1\n        colour: red"), `model: parse: unknown field "colour"`},
		{"duplicate key", "vcenter: {}\n" + base, `key "vcenter" already set in map`},
		{"wrong type", replace("hosts: 1", "hosts: [1]"), `model: parse: cannot unmarshal array`},
		{"no hosts", replace("hosts: 1", "hosts: 0"), `model: datacenters[0].clusters[1].hosts: must be at least 1`},
		{"too many hosts", replace("hosts: 1", "hosts: 1001"), `model: datacenters[0].clusters[1].hosts: must be at most 1000`},
		{"bad ip", replace("ip: 10.0.0.13", "ip: 300.1.1.1"), `model: nodes[2].ip: "300.1.1.1" is not an IPv4 address`},
		{"ipv6", replace("ip: 10.0.0.13", `ip: "fd00::1"`), `model: nodes[2].ip: "fd00::1" is not an IPv4 address`},
		{"loopback ip", replace("ip: 10.0.0.13", "ip: 127.0.0.2"), `model: nodes[2].ip: "127.0.0.2" is not a usable node address`},
		{"duplicate ip", replace("ip: 10.0.0.13", "ip: 10.0.0.11"), `model: nodes[2].ip: duplicate "10.0.0.11"`},
		{"duplicate node", replace("name: node-b", "name: node-a"), `model: nodes[1].name: duplicate "node-a"`},
		{"bad node name", replace("name: node-b", "name: Node_B"), `model: nodes[1].name: "Node_B" is not a valid Kubernetes node name`},
		{"no nodes", strings.Split(base, "nodes:")[0] + "nodes: []\n", `model: nodes: must be at least 1`},
		{"old version", replace(`version: "8.0.3"`, `version: "6.5.0", build: "1"`), `model: vcenter.version: "6.5.0" is older than 6.7.3`},
		{"bad version", replace(`version: "8.0.3"`, `version: "8.0"`), `model: vcenter.version: "8.0" is not a version X.Y.Z`},
		{"build required", replace(`version: "8.0.3"`, `version: "7.0.3"`), `model: vcenter.build: required when version is not 8.0.3`},
		{"no datacenters", "nodes: [{name: a, cluster: c, ip: 10.0.0.1}]", `model: datacenters: must be at least 1`},
		{"duplicate datacenter", replace("  - name: DC0", "  - name: DC0\n    clusters: [{name: c, hosts: 1}]\n  - name: DC0"), `model: datacenters[1].name: duplicate "DC0"`},
		{"datacenter required", replace("  - name: DC0", "  - name: DC1\n    clusters: [{name: c, hosts: 1}]\n  - name: DC0"), `model: nodes[0].datacenter: required when the model has 2 datacenters`},
		{"slash in name", replace("name: cluster-b", "name: a/b"), `model: datacenters[0].clusters[1].name: "a/b" must not contain "/"`},
		{"unknown cluster", replace("cluster: cluster-b", "cluster: cluster-z"), `model: nodes[2].cluster: unknown cluster "cluster-z" in datacenter "DC0"`},
		{"host out of range", replace("cluster: cluster-b, ip", "cluster: cluster-b, host: 1, ip"), `model: nodes[2].host: no host "1" in cluster "cluster-b" of 1 hosts`},
		{"unknown host name", replace("cluster: cluster-b, ip", "cluster: cluster-b, host: other_H0, ip"), `model: nodes[2].host: no host "other_H0"`},
		{"unknown tag", replace("tag: zone-a}]", "tag: zone-q}]"), `model: datacenters[0].clusters[0].tags[0].tag: unknown tag "zone-q" in category "k8s-zone"`},
		{"unknown category", replace("category: k8s-region, tag: region-1}]", "category: k8s-rack, tag: region-1}]"), `model: datacenters[0].tags[0].category: unknown category "k8s-rack"`},
		{"not associable", replace("tags: [{category: k8s-region, tag: region-1}]", "tags: [{category: k8s-zone, tag: zone-a}]"), `model: datacenters[0].tags[0]: category "k8s-zone" cannot be attached to a Datacenter`},
		{"single cardinality", replace("tags: [{category: k8s-zone, tag: zone-a}]", "tags: [{category: k8s-zone, tag: zone-a}, {category: k8s-zone, tag: zone-b}]"), `model: datacenters[0].clusters[0].tags[1]: category "k8s-zone" has SINGLE cardinality and "zone-a" is already attached`},
		{"bad cardinality", replace("cardinality: SINGLE", "cardinality: ONE"), `model: tagCategories[1].cardinality: "ONE" must be SINGLE or MULTIPLE`},
		{"bad associable type", replace("associableTypes: [Datacenter]", "associableTypes: [Cluster]"), `model: tagCategories[0].associableTypes[0]: "Cluster" is not a vSphere inventory type`},
		{"duplicate tag", replace("{name: zone-b, category: k8s-zone}", "{name: zone-a, category: k8s-zone}"), `model: tags[2].name: duplicate "zone-a" in category "k8s-zone"`},
		{"host tags index", replace("hosts: 1", "hosts: 1\n        hostTags: {\"3\": [{category: k8s-zone, tag: zone-b}]}"), `model: datacenters[0].clusters[1].hostTags["3"]: no host "3" in a cluster of 1 hosts`},
		{"bad uuid", replace("ip: 10.0.0.13", "ip: 10.0.0.13, uuid: abc"), `model: nodes[2].uuid: "abc" is not a UUID`},
		{"builtin policy", replace("{name: gold}", "{name: VM Encryption Policy}"), `model: storagePolicies[0].name: "VM Encryption Policy" is a built-in policy`},
		{"policy tag unknown", replace("{name: gold}", "{name: gold, tags: [{category: k8s-zone, tag: zone-q}]}"), `model: storagePolicies[0].tags[0].tag: unknown tag "zone-q" in category "k8s-zone"`},
		{"policy tag category unknown", replace("{name: gold}", "{name: gold, tags: [{category: tier, tag: silver}]}"), `model: storagePolicies[0].tags[0].category: unknown category "tier"`},
		{"policy tag not on datastores", replace("{name: gold}", "{name: gold, tags: [{category: k8s-zone, tag: zone-a}]}"), `model: storagePolicies[0].tags[0]: category "k8s-zone" cannot be attached to a Datastore`},
		{"bad provider", replace("providerID: vsconform-kms", `providerID: "a b"`), `model: kms.providerID: "a b" must be letters`},
		{"unknown datastore cluster", replace("hosts: 1\n", "hosts: 1\n    datastores: [{name: ds, clusters: [nope]}]\n"), `model: datacenters[0].datastores[0].clusters[0]: unknown cluster "nope"`},
		{"too many scsi controllers", replace("ip: 10.0.0.13", "ip: 10.0.0.13, scsiControllers: 5"), `model: nodes[2].scsiControllers: 5 is outside 1..4`},
		{"negative scsi controllers", replace("ip: 10.0.0.13", "ip: 10.0.0.13, scsiControllers: -1"), `model: nodes[2].scsiControllers: -1 is outside 1..4`},
		{"two vsan clusters", strings.Replace(replace("hosts: 1\n", "hosts: 3\n        vsan: {}\n"), "hosts: 2\n", "hosts: 3\n        vsan: {}\n", 1), `model: datacenters[0].clusters[1].vsan: only one vSAN cluster per datacenter is supported ("cluster-a" has vSAN)`},
		{"vsan with two hosts", replace("hosts: 1\n", "hosts: 2\n        vsan: {}\n"), `model: datacenters[0].clusters[1].hosts: a vSAN cluster needs at least 3 hosts`},
		{"file service without ips", replace("hosts: 1\n", "hosts: 3\n        vsan: {fileService: {domain: fs}}\n"), `model: datacenters[0].clusters[1].vsan.fileService.ips: must be at least 1`},
		{"file service bad ip", replace("hosts: 1\n", "hosts: 3\n        vsan: {fileService: {ips: [127.0.0.1]}}\n"), `model: datacenters[0].clusters[1].vsan.fileService.ips[0]: "127.0.0.1" is not a usable IPv4 address`},
		{"file service duplicate ip", replace("hosts: 1\n", "hosts: 3\n        vsan: {fileService: {ips: [10.0.1.1, 10.0.1.1]}}\n"), `model: datacenters[0].clusters[1].vsan.fileService.ips[1]: duplicate "10.0.1.1"`},
		{"file service bad domain", replace("hosts: 1\n", "hosts: 3\n        vsan: {fileService: {domain: Bad_Domain, ips: [10.0.1.1]}}\n"), `model: datacenters[0].clusters[1].vsan.fileService.domain: "Bad_Domain" is not a lowercase DNS name`},
		{"no datastore for node", replace("hosts: 1\n", "hosts: 1\n    datastores: [{name: ds, clusters: [cluster-a]}]\n"), `model: nodes[2].cluster: no datastore of datacenter "DC0" is mounted on cluster "cluster-b"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadModel([]byte(tc.yaml))
			if err == nil {
				t.Fatalf("LoadModel succeeded, want error containing %q", tc.want)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error %q\n  does not contain %q", msg, tc.want)
			}
			if !strings.HasPrefix(msg, "model: ") || strings.Contains(msg, "\n") {
				t.Errorf("error %q is not one line starting with \"model: \"", msg)
			}
		})
	}
}

func TestLoadModelDefaults(t *testing.T) {
	m, err := LoadModel([]byte(replace("cluster: cluster-b, ip", "cluster: cluster-b, host: 0, hostname: c.example, ip")))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.VCenter; got.Version != "8.0.3" || got.Build != "24022515" || got.Username != "administrator@vsphere.local" {
		t.Errorf("vcenter defaults = %+v", got)
	}
	if ds := m.Datacenters[0].Datastores; len(ds) != 1 || ds[0].Name != "LocalDS_0" {
		t.Errorf("datastores default = %+v", ds)
	}
	if c := m.TagCategories[0].Cardinality; c != "SINGLE" {
		t.Errorf("cardinality default = %q", c)
	}
	fs, err := LoadModel([]byte(replace("hosts: 1\n", "hosts: 3\n        vsan: {fileService: {ips: [10.0.1.1]}}\n")))
	if err != nil {
		t.Fatal(err)
	}
	if d := fs.Datacenters[0].Clusters[1].VSAN.FileService.Domain; d != "vsanfs" {
		t.Errorf("file service domain default = %q", d)
	}
	tests := []struct {
		node               int
		host, hostname, dc string
	}{
		{0, "cluster-a_H0", "node-a", "DC0"}, // hosts of a cluster in turn
		{1, "cluster-a_H1", "node-b", "DC0"},
		{2, "cluster-b_H0", "c.example", "DC0"}, // index given as a number
	}
	for _, tc := range tests {
		n := m.Nodes[tc.node]
		if string(n.Host) != tc.host || n.Hostname != tc.hostname || n.Datacenter != tc.dc {
			t.Errorf("nodes[%d] = host %q hostname %q dc %q, want %q %q %q", tc.node, n.Host, n.Hostname, n.Datacenter, tc.host, tc.hostname, tc.dc)
		}
		if n.CPUs != 2 || n.MemoryMB != 4096 || n.SCSIControllers != 4 {
			t.Errorf("nodes[%d] size = %d CPUs %d MB %d SCSI controllers", tc.node, n.CPUs, n.MemoryMB, n.SCSIControllers)
		}
	}
	// Name-based UUIDs: stable across loads, distinct, lowercase.
	again, _ := LoadModel([]byte(base))
	if m.Nodes[0].UUID != again.Nodes[0].UUID || m.Nodes[0].UUID == m.Nodes[1].UUID || m.Nodes[0].UUID == m.Nodes[0].InstanceUUID {
		t.Errorf("uuids: %q %q %q %q", m.Nodes[0].UUID, again.Nodes[0].UUID, m.Nodes[1].UUID, m.Nodes[0].InstanceUUID)
	}
	if !uuidRE.MatchString(m.Nodes[0].UUID) || m.Nodes[0].UUID[14] != '5' {
		t.Errorf("uuid %q is not a version-5 UUID", m.Nodes[0].UUID)
	}
	// A given UUID is normalised to lowercase, as vCenter reports it.
	up, err := LoadModel([]byte(replace("ip: 10.0.0.13", "ip: 10.0.0.13, uuid: 4237ABCD-0000-0000-0000-00000000000A")))
	if err != nil {
		t.Fatal(err)
	}
	if got := up.Nodes[2].UUID; got != "4237abcd-0000-0000-0000-00000000000a" {
		t.Errorf("uuid = %q", got)
	}
}

func TestHostRefByName(t *testing.T) {
	m, err := LoadModel([]byte(replace("cluster: cluster-a, ip: 10.0.0.11", "cluster: cluster-a, host: cluster-a_H1, ip: 10.0.0.11")))
	if err != nil {
		t.Fatal(err)
	}
	if h := m.Nodes[0].Host; h != "cluster-a_H1" {
		t.Errorf("host = %q", h)
	}
}

func TestHermeticFixture(t *testing.T) {
	data, err := fixtures.FS.ReadFile("vcsim/hermetic.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := LoadModel(data)
	if err != nil {
		t.Fatal(err)
	}
	// Two zoned clusters with the nodes, plus an untagged one for the CPI's
	// "no tag, no label" checks.
	if len(m.Datacenters) != 1 || len(m.Datacenters[0].Clusters) != 3 || len(m.Nodes) != 5 {
		t.Errorf("unexpected shape: %d datacenters, %d clusters, %d nodes", len(m.Datacenters), len(m.Datacenters[0].Clusters), len(m.Nodes))
	}
	// Two real kubelet nodes in zone-a, so data can move between them; the
	// other nodes are kwok's.
	var real []string
	for _, n := range m.Nodes {
		if n.Kubelet == KubeletReal {
			real = append(real, n.Name)
		}
	}
	if strings.Join(real, ",") != "node-a1,node-a2" {
		t.Errorf("real nodes %v, want node-a1 and node-a2", real)
	}
	if m.KMS == nil || m.KMS.ProviderID != "vsconform-kms" || !m.KMS.Default {
		t.Errorf("kms = %+v", m.KMS)
	}
}

func TestLoadModelFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m.yaml")
	if err := os.WriteFile(p, []byte(base), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadModelFile(p); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadModelFile(filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !strings.HasPrefix(err.Error(), "model: ") {
		t.Errorf("missing file: err = %v", err)
	}
}
