// Package vcenter runs a vCenter simulator (govmomi's vcsim, extended by
// sim/vcext) whose inventory comes from a small YAML model: datacenters,
// clusters and hosts, one powered-on VM per Kubernetes node, vAPI tags, SPBM
// storage policies and a KMS provider. fixtures/vcsim/hermetic.yaml is the
// hermetic target's model and a complete example of the schema below.
//
// Start builds the inventory in process, registers the CNS, vSAN, PBM and
// VSLM SDKs, lets sim/vcext install its extensions, then serves TLS on a
// loopback address with one user and creates tags, policies and the KMS
// provider through the public client APIs.
package vcenter

import (
	"crypto/sha1"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// Model is the simulated vCenter's inventory. Zero values are replaced by the
// defaults documented on each field when the model is loaded or validated.
type Model struct {
	// VCenter is what the ServiceContent's About reports and who may log in.
	VCenter VCenter `json:"vcenter"`
	// Datacenters is the inventory; at least one.
	Datacenters []Datacenter `json:"datacenters"`
	// TagCategories are vAPI tag categories (e.g. k8s-region, k8s-zone).
	TagCategories []TagCategory `json:"tagCategories,omitempty"`
	// Tags are vAPI tags; each belongs to a category above.
	Tags []Tag `json:"tags,omitempty"`
	// Nodes are the Kubernetes nodes: one powered-on VM each; at least one.
	Nodes []Node `json:"nodes"`
	// StoragePolicies are created through PBM next to vcsim's built-in ones.
	StoragePolicies []StoragePolicy `json:"storagePolicies,omitempty"`
	// KMS, if set, registers a KMIP key provider with CryptoManagerKmip.
	KMS *KMS `json:"kms,omitempty"`
}

// VCenter describes the simulated vCenter Server itself.
type VCenter struct {
	// Version is About.Version, "X.Y.Z", at least 6.7.3 (the CSI driver's
	// minimum). Default 8.0.3: the driver v3.3.1 takes different code paths
	// below 8.0.3 (see STACK.md).
	Version string `json:"version,omitempty"`
	// Build is About.Build. Default 24022515 (vCenter 8.0.3 GA) when Version
	// is 8.0.3; required otherwise.
	Build string `json:"build,omitempty"`
	// Username is the default login; Options.Username overrides it.
	// Default administrator@vsphere.local.
	Username string `json:"username,omitempty"`
	// MissingPrivileges are privilege IDs (e.g. "Datastore.FileManagement")
	// the login user's role lacks: the AuthorizationManager reports them
	// not granted anywhere (sim/vcext/privileges.go), as for a user set up
	// without them. It seeds the preflight's privilege finding; vcsim does
	// not enforce privileges on operations.
	MissingPrivileges []string `json:"missingPrivileges,omitempty"`
}

// Datacenter is one vSphere datacenter.
type Datacenter struct {
	Name string `json:"name"`
	// Clusters are the datacenter's clusters; at least one.
	Clusters []Cluster `json:"clusters"`
	// Datastores are local datastores (backed by a temporary directory) that
	// are mounted on every host of the listed clusters. Default: one
	// datastore "LocalDS_0" on all hosts, as vcsim's own models have.
	Datastores []Datastore `json:"datastores,omitempty"`
	// Tags are attached to the datacenter.
	Tags []TagRef `json:"tags,omitempty"`
}

// Cluster is a ClusterComputeResource with Hosts hosts named <name>_H<i>.
type Cluster struct {
	Name string `json:"name"`
	// Hosts is the number of hosts, 1..1000.
	Hosts int `json:"hosts"`
	// Tags are attached to the cluster.
	Tags []TagRef `json:"tags,omitempty"`
	// HostTags attaches tags to hosts, keyed by host index ("0") or name.
	HostTags map[string][]TagRef `json:"hostTags,omitempty"`
	// VSAN, if set, makes the cluster a vSAN cluster: vSAN is enabled on it
	// (ReconfigureComputeResource with vsanConfig.enabled), which gives its
	// hosts a shared datastore of type "vsan", and VsanClusterGetConfig
	// reports Enabled (and FileServiceConfig) as set here. Clusters without
	// it report Enabled false: clients dereference Enabled on every cluster.
	VSAN *VSAN `json:"vsan,omitempty"`
}

// VSAN is a cluster's vSAN configuration.
type VSAN struct {
	// Datastore names the cluster's vSAN datastore (vCenter calls it
	// "vsanDatastore" and lets it be renamed); default vsanDatastore.
	Datastore string `json:"datastore,omitempty"`
	// FileService, if set, enables vSAN file service, where CNS creates
	// file volumes (NFS file shares on the cluster's vsan datastore).
	FileService *FileService `json:"fileService,omitempty"`
}

// FileService is the vSAN file service of a cluster (vSAN Management API,
// VsanFileServiceConfig with one VsanFileServiceDomainConfig).
type FileService struct {
	// Domain is the file service domain's name; default "vsanfs".
	Domain string `json:"domain,omitempty"`
	// IPs are the file servers' static IPv4 addresses (the domain's
	// fileServerIpConfig); shares are served from the first. At least one;
	// plain data, nothing connects to them.
	IPs []string `json:"ips"`
}

// Datastore is a local datastore shared by the hosts of some clusters.
type Datastore struct {
	Name string `json:"name"`
	// Clusters restricts the hosts that mount the datastore; empty means
	// every host of the datacenter.
	Clusters []string `json:"clusters,omitempty"`
	// Tags are attached to the datastore.
	Tags []TagRef `json:"tags,omitempty"`
}

// TagCategory is a vAPI tag category.
type TagCategory struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Cardinality is SINGLE (one tag of the category per object, the default)
	// or MULTIPLE.
	Cardinality string `json:"cardinality,omitempty"`
	// AssociableTypes limits the object types tags may be attached to, e.g.
	// Datacenter, ClusterComputeResource, HostSystem; empty means any.
	AssociableTypes []string `json:"associableTypes,omitempty"`
}

// Tag is a vAPI tag in a category.
type Tag struct {
	Name        string `json:"name"`
	Category    string `json:"category"`
	Description string `json:"description,omitempty"`
}

// TagRef names a tag to attach; tag names are unique only within a category.
type TagRef struct {
	Category string `json:"category"`
	Tag      string `json:"tag"`
}

// HostRef names a host of a cluster by 0-based index (host: 1) or by name
// (host: cluster-a_H1).
type HostRef string

// UnmarshalJSON accepts a number or a string.
func (h *HostRef) UnmarshalJSON(b []byte) error {
	var n json.Number
	if err := json.Unmarshal(b, &n); err == nil {
		*h = HostRef(n.String())
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("host must be an index or a host name")
	}
	*h = HostRef(s)
	return nil
}

// Node is a Kubernetes node backed by one VM named like the node.
type Node struct {
	Name string `json:"name"`
	// Datacenter defaults to the only datacenter, if there is one.
	Datacenter string `json:"datacenter,omitempty"`
	Cluster    string `json:"cluster"`
	// Host places the VM; default: the cluster's hosts in turn.
	Host HostRef `json:"host,omitempty"`
	// IP is the guest's IPv4 address (plain data: nothing connects to it).
	IP string `json:"ip"`
	// Hostname is the guest's host name; default Name.
	Hostname string `json:"hostname,omitempty"`
	// UUID is the BIOS UUID (config.uuid, the node's systemUUID and CSI node
	// ID); InstanceUUID is config.instanceUuid. Both default to name-based
	// UUIDs, stable across runs.
	UUID         string `json:"uuid,omitempty"`
	InstanceUUID string `json:"instanceUUID,omitempty"`
	// CPUs and MemoryMB size the VM (the CPI's instance type); default 2 and
	// 4096.
	CPUs     int32 `json:"cpus,omitempty"`
	MemoryMB int64 `json:"memoryMB,omitempty"`
	// SCSIControllers is the number of paravirtual SCSI controllers, 1..4
	// (vSphere's per-VM maximum); default 4, as Kubernetes node VMs are
	// built so that the CSI node plugin's limit of 59 volumes (4 x 15 - the
	// root disk) can really be attached.
	SCSIControllers int32 `json:"scsiControllers,omitempty"`
	// Kubelet is who plays the node's kubelet: "kwok" (default: a fake
	// node, pods only pretend to run) or "real" (a real kubelet, containerd
	// and the CSI node plugin in a namespace of the node's own, where
	// attached disks appear as block devices and pods really run).
	Kubelet string `json:"kubelet,omitempty"`
	// DiskEnableUUID sets the VM's disk.EnableUUID extraConfig, which the
	// vSphere CSI driver's prerequisites require on node VMs; default true.
	// false seeds the preflight's finding.
	DiskEnableUUID *bool `json:"diskEnableUUID,omitempty"`
	// HardwareVersion is the VM's virtual hardware version (config.version),
	// "vmx-NN"; default vmx-19. An old one seeds the preflight's finding.
	HardwareVersion string `json:"hardwareVersion,omitempty"`
}

// Kubelet kinds of a node.
const (
	KubeletKwok = "kwok"
	KubeletReal = "real"
)

// StoragePolicy is an SPBM storage (REQUIREMENT) profile.
type StoragePolicy struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Encryption adds the VM encryption data service rule, the rule vCenter's
	// own "VM Encryption Policy" carries.
	Encryption bool `json:"encryption,omitempty"`
	// Tags are tag-based placement rules (vSphere Storage, "Create a Storage
	// Policy for Tag-Based Placement"): a datastore is compatible when, for
	// each category named here, it carries one of the tags named for it.
	Tags []TagRef `json:"tags,omitempty"`
}

// KMS is a KMIP key provider registered with vCenter.
type KMS struct {
	// ProviderID is the key provider (KMS cluster) id.
	ProviderID string `json:"providerID"`
	// Default marks the provider as vCenter's default key provider.
	Default bool `json:"default,omitempty"`
}

const (
	defaultVersion  = "8.0.3"
	defaultBuild    = "24022515" // vCenter Server 8.0 Update 3 GA
	defaultUsername = "administrator@vsphere.local"
	defaultCPUs     = 2
	defaultMemoryMB = 4096
	// maxSCSIControllers is vSphere's configuration maximum of SCSI
	// adapters per VM (bus numbers 0..3).
	maxSCSIControllers = 4
	maxHosts           = 1000
)

// builtinPolicies are the profiles the PBM simulator always has.
var builtinPolicies = []string{
	"vSAN Default Storage Policy",
	"VVol No Requirements Policy",
	"VM Encryption Policy",
	"Host-local PMem Default Storage Policy",
}

// associableTypes are the vSphere managed entity types a category may name.
var associableTypes = map[string]bool{
	"Datacenter": true, "ClusterComputeResource": true, "HostSystem": true,
	"Datastore": true, "StoragePod": true, "VirtualMachine": true, "Folder": true,
	"ResourcePool": true, "VirtualApp": true, "Network": true,
	"DistributedVirtualSwitch": true, "DistributedVirtualPortgroup": true,
	"ComputeResource": true,
}

// LoadModelFile reads and validates a model file.
func LoadModelFile(path string) (*Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	return LoadModel(data)
}

// LoadModel parses YAML strictly (unknown or duplicate fields are errors),
// applies defaults and validates.
func LoadModel(data []byte) (*Model, error) {
	var m Model
	if err := yaml.UnmarshalStrict(data, &m); err != nil {
		return nil, fmt.Errorf("model: parse: %s", parseError(err))
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// parseError drops the YAML->JSON plumbing from a decoding error and keeps
// it on one line.
func parseError(err error) string {
	msg := strings.Join(strings.Fields(err.Error()), " ")
	for _, p := range []string{"error converting YAML to JSON: ", "error unmarshaling JSON: ", "while decoding JSON: ", "json: "} {
		msg = strings.TrimPrefix(msg, p)
	}
	return msg
}

// clone returns a deep copy (the model is plain data).
func (m *Model) clone() (*Model, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	var c Model
	return &c, json.Unmarshal(b, &c)
}

// HostName is the inventory name of host i of a cluster.
func HostName(cluster string, i int) string {
	return fmt.Sprintf("%s_H%d", cluster, i)
}

// fieldError is a validation error naming the field path.
func fieldError(path, format string, args ...any) error {
	return fmt.Errorf("model: %s: %s", path, fmt.Sprintf(format, args...))
}

var (
	versionRE  = regexp.MustCompile(`^(\d+)\.(\d+)\.(\d+)$`)
	digitsRE   = regexp.MustCompile(`^\d+$`)
	dns1123RE  = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	uuidRE     = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	providerRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
)

// parseVersion returns X.Y.Z as X*10000+Y*100+Z.
func parseVersion(v string) (int, bool) {
	p := versionRE.FindStringSubmatch(v)
	if p == nil {
		return 0, false
	}
	n := 0
	for _, s := range p[1:] {
		x, err := strconv.Atoi(s)
		if err != nil || x > 99 {
			return 0, false
		}
		n = n*100 + x
	}
	return n, true
}

// apiVersion is the About.ApiVersion vCenter reports for a release: "6.7.3"
// for 6.7 U3, "X.Y.Z.0" from 7.0 on (e.g. 8.0.3.0).
func apiVersion(version string) string {
	if n, _ := parseVersion(version); n >= 70000 {
		return version + ".0"
	}
	return version
}

// inventoryName checks a datacenter/cluster/datastore name: inventory paths
// use "/" as separator.
func inventoryName(path, name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return fieldError(path, "must not be empty")
	case strings.Contains(name, "/"):
		return fieldError(path, "%q must not contain \"/\"", name)
	}
	return nil
}

// nameUUID is a name-based (version 5 layout, SHA-1) UUID, so a model gives
// the same VM identities on every run.
func nameUUID(kind, name string) string {
	h := sha1.Sum([]byte("vsphere-conformance/vcenter/" + kind + "/" + name))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// Validate applies defaults in place and checks the model. The error is one
// line naming the first offending field.
func (m *Model) Validate() error {
	if err := m.validateVCenter(); err != nil {
		return err
	}
	cats, err := m.validateTags()
	if err != nil {
		return err
	}
	if err := m.validateDatacenters(cats); err != nil {
		return err
	}
	if err := m.validateNodes(); err != nil {
		return err
	}
	if err := m.validatePolicies(cats); err != nil {
		return err
	}
	if k := m.KMS; k != nil && !providerRE.MatchString(k.ProviderID) {
		return fieldError("kms.providerID", "%q must be letters, digits, '.', '_' or '-'", k.ProviderID)
	}
	return nil
}

func (m *Model) validateVCenter() error {
	v := &m.VCenter
	if v.Version == "" {
		v.Version = defaultVersion
	}
	n, ok := parseVersion(v.Version)
	if !ok {
		return fieldError("vcenter.version", "%q is not a version X.Y.Z", v.Version)
	}
	if n < 60703 {
		return fieldError("vcenter.version", "%q is older than 6.7.3, the vSphere CSI driver's minimum", v.Version)
	}
	if v.Build == "" && v.Version == defaultVersion {
		v.Build = defaultBuild
	}
	if !digitsRE.MatchString(v.Build) {
		if v.Build == "" {
			return fieldError("vcenter.build", "required when version is not %s", defaultVersion)
		}
		return fieldError("vcenter.build", "%q is not a build number", v.Build)
	}
	if v.Username == "" {
		v.Username = defaultUsername
	}
	if strings.ContainsAny(v.Username, ": \t") {
		return fieldError("vcenter.username", "%q must not contain ':' or blanks", v.Username)
	}
	for i, p := range v.MissingPrivileges {
		if !privilegeRE.MatchString(p) {
			return fieldError(fmt.Sprintf("vcenter.missingPrivileges[%d]", i), "%q is not a privilege ID like Datastore.FileManagement", p)
		}
	}
	return nil
}

// defaultHardwareVersion is vSphere 7.0 U2's virtual hardware version,
// above the vSphere CSI driver's documented minimum (15).
const defaultHardwareVersion = "vmx-19"

var hardwareVersionRE = regexp.MustCompile(`^vmx-[0-9]{2}$`)

// privilegeRE matches vSphere privilege IDs: dotted names, e.g.
// "Cns.Searchable", "VirtualMachine.Config.AddExistingDisk".
var privilegeRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)+$`)

// categoryInfo indexes a validated category and its tags.
type categoryInfo struct {
	TagCategory
	tags map[string]bool
}

func (m *Model) validateTags() (map[string]*categoryInfo, error) {
	cats := map[string]*categoryInfo{}
	for i := range m.TagCategories {
		c := &m.TagCategories[i]
		p := fmt.Sprintf("tagCategories[%d]", i)
		if strings.TrimSpace(c.Name) == "" {
			return nil, fieldError(p+".name", "must not be empty")
		}
		if cats[c.Name] != nil {
			return nil, fieldError(p+".name", "duplicate %q", c.Name)
		}
		if c.Cardinality == "" {
			c.Cardinality = "SINGLE"
		}
		if c.Cardinality != "SINGLE" && c.Cardinality != "MULTIPLE" {
			return nil, fieldError(p+".cardinality", "%q must be SINGLE or MULTIPLE", c.Cardinality)
		}
		for j, t := range c.AssociableTypes {
			if !associableTypes[t] {
				return nil, fieldError(fmt.Sprintf("%s.associableTypes[%d]", p, j), "%q is not a vSphere inventory type", t)
			}
		}
		cats[c.Name] = &categoryInfo{TagCategory: *c, tags: map[string]bool{}}
	}
	for i, t := range m.Tags {
		p := fmt.Sprintf("tags[%d]", i)
		if strings.TrimSpace(t.Name) == "" {
			return nil, fieldError(p+".name", "must not be empty")
		}
		c := cats[t.Category]
		if c == nil {
			return nil, fieldError(p+".category", "unknown category %q", t.Category)
		}
		if c.tags[t.Name] {
			return nil, fieldError(p+".name", "duplicate %q in category %q", t.Name, t.Category)
		}
		c.tags[t.Name] = true
	}
	return cats, nil
}

// checkTagRefs validates the tags attached to one object of type kind.
func checkTagRefs(cats map[string]*categoryInfo, path, kind string, refs []TagRef) error {
	seen := map[string]string{}
	for i, r := range refs {
		p := fmt.Sprintf("%s[%d]", path, i)
		c := cats[r.Category]
		if c == nil {
			return fieldError(p+".category", "unknown category %q", r.Category)
		}
		if !c.tags[r.Tag] {
			return fieldError(p+".tag", "unknown tag %q in category %q", r.Tag, r.Category)
		}
		if len(c.AssociableTypes) > 0 && !slices.Contains(c.AssociableTypes, kind) {
			return fieldError(p, "category %q cannot be attached to a %s", r.Category, kind)
		}
		if prev, ok := seen[r.Category]; ok && c.Cardinality == "SINGLE" {
			return fieldError(p, "category %q has SINGLE cardinality and %q is already attached", r.Category, prev)
		}
		seen[r.Category] = r.Tag
	}
	return nil
}

// hostIndex resolves a host index or name within a cluster.
func hostIndex(c *Cluster, ref string) (int, bool) {
	if digitsRE.MatchString(ref) {
		i, err := strconv.Atoi(ref)
		return i, err == nil && i < c.Hosts
	}
	for i := 0; i < c.Hosts; i++ {
		if HostName(c.Name, i) == ref {
			return i, true
		}
	}
	return 0, false
}

func (m *Model) validateDatacenters(cats map[string]*categoryInfo) error {
	if len(m.Datacenters) == 0 {
		return fieldError("datacenters", "must be at least 1")
	}
	dcs := map[string]bool{}
	for i := range m.Datacenters {
		dc := &m.Datacenters[i]
		p := fmt.Sprintf("datacenters[%d]", i)
		if err := inventoryName(p+".name", dc.Name); err != nil {
			return err
		}
		if dcs[dc.Name] {
			return fieldError(p+".name", "duplicate %q", dc.Name)
		}
		dcs[dc.Name] = true
		if err := checkTagRefs(cats, p+".tags", "Datacenter", dc.Tags); err != nil {
			return err
		}
		if len(dc.Clusters) == 0 {
			return fieldError(p+".clusters", "must be at least 1")
		}
		clusters := map[string]bool{}
		vsanCluster := ""
		for j := range dc.Clusters {
			c := &dc.Clusters[j]
			cp := fmt.Sprintf("%s.clusters[%d]", p, j)
			if err := inventoryName(cp+".name", c.Name); err != nil {
				return err
			}
			if clusters[c.Name] {
				return fieldError(cp+".name", "duplicate %q", c.Name)
			}
			clusters[c.Name] = true
			if c.Hosts < 1 {
				return fieldError(cp+".hosts", "must be at least 1")
			}
			if c.Hosts > maxHosts {
				return fieldError(cp+".hosts", "must be at most %d", maxHosts)
			}
			if err := checkTagRefs(cats, cp+".tags", "ClusterComputeResource", c.Tags); err != nil {
				return err
			}
			if c.VSAN != nil {
				// vcsim names every vSAN datastore "vsanDatastore" and
				// mounts a second cluster's on the first one's.
				if vsanCluster != "" {
					return fieldError(cp+".vsan", "only one vSAN cluster per datacenter is supported (%q has vSAN)", vsanCluster)
				}
				vsanCluster = c.Name
				// vSAN Default Storage Policy: one failure to tolerate by
				// mirroring, so 2*1+1 fault domains (hosts) per object.
				if c.Hosts < 3 {
					return fieldError(cp+".hosts", "a vSAN cluster needs at least 3 hosts (the default vSAN policy needs 3 fault domains), got %d", c.Hosts)
				}
				if c.VSAN.Datastore == "" {
					c.VSAN.Datastore = defaultVSANDatastore
				}
				if err := inventoryName(cp+".vsan.datastore", c.VSAN.Datastore); err != nil {
					return err
				}
				if err := validateFileService(cp+".vsan.fileService", c.VSAN.FileService); err != nil {
					return err
				}
			}
			for _, key := range slices.Sorted(maps.Keys(c.HostTags)) {
				hp := fmt.Sprintf("%s.hostTags[%q]", cp, key)
				if _, ok := hostIndex(c, key); !ok {
					return fieldError(hp, "no host %q in a cluster of %d hosts", key, c.Hosts)
				}
				if err := checkTagRefs(cats, hp, "HostSystem", c.HostTags[key]); err != nil {
					return err
				}
			}
		}
		if len(dc.Datastores) == 0 {
			dc.Datastores = []Datastore{{Name: "LocalDS_0"}}
		}
		stores := map[string]bool{}
		for j, ds := range dc.Datastores {
			dp := fmt.Sprintf("%s.datastores[%d]", p, j)
			if err := inventoryName(dp+".name", ds.Name); err != nil {
				return err
			}
			if stores[ds.Name] {
				return fieldError(dp+".name", "duplicate %q", ds.Name)
			}
			stores[ds.Name] = true
			for k, c := range ds.Clusters {
				if !clusters[c] {
					return fieldError(fmt.Sprintf("%s.clusters[%d]", dp, k), "unknown cluster %q", c)
				}
			}
			if err := checkTagRefs(cats, dp+".tags", "Datastore", ds.Tags); err != nil {
				return err
			}
		}
	}
	return nil
}

// defaultVSANDatastore is the name vCenter gives a cluster's vSAN datastore.
const defaultVSANDatastore = "vsanDatastore"

// defaultFileServiceDomain names a file service domain the model leaves unnamed.
const defaultFileServiceDomain = "vsanfs"

func validateFileService(path string, fs *FileService) error {
	if fs == nil {
		return nil
	}
	if fs.Domain == "" {
		fs.Domain = defaultFileServiceDomain
	}
	if len(fs.Domain) > 253 || !dns1123RE.MatchString(fs.Domain) {
		return fieldError(path+".domain", "%q is not a lowercase DNS name", fs.Domain)
	}
	if len(fs.IPs) == 0 {
		return fieldError(path+".ips", "must be at least 1 (file servers need static addresses)")
	}
	seen := map[string]bool{}
	for i, s := range fs.IPs {
		ip := net.ParseIP(s)
		if ip == nil || ip.To4() == nil || !strings.Contains(s, ".") || ip.IsLoopback() || ip.IsUnspecified() {
			return fieldError(fmt.Sprintf("%s.ips[%d]", path, i), "%q is not a usable IPv4 address", s)
		}
		if seen[s] {
			return fieldError(fmt.Sprintf("%s.ips[%d]", path, i), "duplicate %q", s)
		}
		seen[s] = true
	}
	return nil
}

// findCluster returns the datacenter and cluster of a node.
func (m *Model) findCluster(dcName, cluster string) (*Datacenter, *Cluster) {
	for i := range m.Datacenters {
		dc := &m.Datacenters[i]
		if dc.Name != dcName {
			continue
		}
		for j := range dc.Clusters {
			if dc.Clusters[j].Name == cluster {
				return dc, &dc.Clusters[j]
			}
		}
		return dc, nil
	}
	return nil, nil
}

// datastoreFor is the first datastore of dc mounted on cluster's hosts.
func datastoreFor(dc *Datacenter, cluster string) string {
	for _, ds := range dc.Datastores {
		if len(ds.Clusters) == 0 || slices.Contains(ds.Clusters, cluster) {
			return ds.Name
		}
	}
	return ""
}

func (m *Model) validateNodes() error {
	if len(m.Nodes) == 0 {
		return fieldError("nodes", "must be at least 1")
	}
	names, ips, hostnames, uuids := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	next := map[*Cluster]int{} // round-robin placement per cluster
	for i := range m.Nodes {
		n := &m.Nodes[i]
		p := fmt.Sprintf("nodes[%d]", i)
		if len(n.Name) > 253 || !dns1123RE.MatchString(n.Name) {
			return fieldError(p+".name", "%q is not a valid Kubernetes node name (lowercase DNS subdomain)", n.Name)
		}
		if names[n.Name] {
			return fieldError(p+".name", "duplicate %q", n.Name)
		}
		names[n.Name] = true

		if n.Datacenter == "" {
			if len(m.Datacenters) != 1 {
				return fieldError(p+".datacenter", "required when the model has %d datacenters", len(m.Datacenters))
			}
			n.Datacenter = m.Datacenters[0].Name
		}
		dc, c := m.findCluster(n.Datacenter, n.Cluster)
		if dc == nil {
			return fieldError(p+".datacenter", "unknown datacenter %q", n.Datacenter)
		}
		if c == nil {
			return fieldError(p+".cluster", "unknown cluster %q in datacenter %q", n.Cluster, n.Datacenter)
		}
		if datastoreFor(dc, c.Name) == "" {
			return fieldError(p+".cluster", "no datastore of datacenter %q is mounted on cluster %q", dc.Name, c.Name)
		}
		if n.Host == "" {
			n.Host = HostRef(HostName(c.Name, next[c]%c.Hosts))
			next[c]++
		}
		idx, ok := hostIndex(c, string(n.Host))
		if !ok {
			return fieldError(p+".host", "no host %q in cluster %q of %d hosts", n.Host, c.Name, c.Hosts)
		}
		n.Host = HostRef(HostName(c.Name, idx))

		ip := net.ParseIP(n.IP)
		if ip == nil || ip.To4() == nil || !strings.Contains(n.IP, ".") {
			return fieldError(p+".ip", "%q is not an IPv4 address", n.IP)
		}
		if ip.IsLoopback() || ip.IsUnspecified() {
			return fieldError(p+".ip", "%q is not a usable node address (the CPI skips loopback addresses)", n.IP)
		}
		if ips[n.IP] {
			return fieldError(p+".ip", "duplicate %q", n.IP)
		}
		ips[n.IP] = true

		if n.Hostname == "" {
			n.Hostname = n.Name
		}
		if len(n.Hostname) > 253 || !dns1123RE.MatchString(n.Hostname) {
			return fieldError(p+".hostname", "%q is not a lowercase DNS name", n.Hostname)
		}
		if hostnames[n.Hostname] {
			return fieldError(p+".hostname", "duplicate %q", n.Hostname)
		}
		hostnames[n.Hostname] = true

		// vCenter reports UUIDs in lowercase and SearchIndex.FindByUuid
		// compares them as strings.
		if n.UUID == "" {
			n.UUID = nameUUID("bios", n.Name)
		}
		if n.InstanceUUID == "" {
			n.InstanceUUID = nameUUID("instance", n.Name)
		}
		n.UUID, n.InstanceUUID = strings.ToLower(n.UUID), strings.ToLower(n.InstanceUUID)
		for _, u := range []struct{ field, val string }{{"uuid", n.UUID}, {"instanceUUID", n.InstanceUUID}} {
			if !uuidRE.MatchString(u.val) {
				return fieldError(p+"."+u.field, "%q is not a UUID", u.val)
			}
			if uuids[u.val] {
				return fieldError(p+"."+u.field, "duplicate %q", u.val)
			}
			uuids[u.val] = true
		}

		if n.CPUs == 0 {
			n.CPUs = defaultCPUs
		}
		if n.CPUs < 1 || n.CPUs > 768 {
			return fieldError(p+".cpus", "%d is outside 1..768", n.CPUs)
		}
		if n.MemoryMB == 0 {
			n.MemoryMB = defaultMemoryMB
		}
		if n.MemoryMB < 128 || n.MemoryMB%4 != 0 {
			return fieldError(p+".memoryMB", "%d must be at least 128 and a multiple of 4", n.MemoryMB)
		}
		if n.SCSIControllers == 0 {
			n.SCSIControllers = maxSCSIControllers
		}
		if n.HardwareVersion == "" {
			n.HardwareVersion = defaultHardwareVersion
		}
		if !hardwareVersionRE.MatchString(n.HardwareVersion) {
			return fieldError(p+".hardwareVersion", "%q is not vmx-NN", n.HardwareVersion)
		}
		switch n.Kubelet {
		case "":
			n.Kubelet = KubeletKwok
		case KubeletKwok, KubeletReal:
		default:
			return fieldError(p+".kubelet", "%q is not one of \"kwok\", \"real\"", n.Kubelet)
		}
		if n.SCSIControllers < 1 || n.SCSIControllers > maxSCSIControllers {
			return fieldError(p+".scsiControllers", "%d is outside 1..%d (vSphere's SCSI controllers per VM)", n.SCSIControllers, maxSCSIControllers)
		}
	}
	return nil
}

func (m *Model) validatePolicies(cats map[string]*categoryInfo) error {
	seen := map[string]bool{}
	for _, b := range builtinPolicies {
		seen[b] = true
	}
	for i, sp := range m.StoragePolicies {
		p := fmt.Sprintf("storagePolicies[%d].name", i)
		if strings.TrimSpace(sp.Name) == "" {
			return fieldError(p, "must not be empty")
		}
		if seen[sp.Name] {
			if slices.Contains(builtinPolicies, sp.Name) {
				return fieldError(p, "%q is a built-in policy", sp.Name)
			}
			return fieldError(p, "duplicate %q", sp.Name)
		}
		seen[sp.Name] = true
		for j, r := range sp.Tags {
			tp := fmt.Sprintf("storagePolicies[%d].tags[%d]", i, j)
			c := cats[r.Category]
			if c == nil {
				return fieldError(tp+".category", "unknown category %q", r.Category)
			}
			if !c.tags[r.Tag] {
				return fieldError(tp+".tag", "unknown tag %q in category %q", r.Tag, r.Category)
			}
			if len(c.AssociableTypes) > 0 && !slices.Contains(c.AssociableTypes, "Datastore") {
				return fieldError(tp, "category %q cannot be attached to a Datastore, so no datastore can satisfy it", r.Category)
			}
		}
	}
	return nil
}
