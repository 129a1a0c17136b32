package vcenter

import (
	"context"
	"crypto/x509"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/cns"
	cnsmethods "github.com/vmware/govmomi/cns/methods"
	cnstypes "github.com/vmware/govmomi/cns/types"
	"github.com/vmware/govmomi/crypto"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/pbm"
	pbmtypes "github.com/vmware/govmomi/pbm/types"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vapi/rest"
	"github.com/vmware/govmomi/vapi/tags"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vsan"

	"github.com/vsphere-conformance/vsphere-conformance/fixtures"
)

const testPassword = "correct horse"

func startHermetic(t *testing.T) *Server {
	t.Helper()
	data, err := fixtures.FS.ReadFile("vcsim/hermetic.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := LoadModel(data)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Start(ctx, m, Options{Password: testPassword})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// newClient connects as a CSI driver or CPI would: verified TLS with the
// server's CA, then a SOAP login.
func newClient(ctx context.Context, t *testing.T, s *Server, user *url.Userinfo) (*vim25.Client, error) {
	t.Helper()
	sc := soap.NewClient(s.URL(), false)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(s.CACertPEM()) {
		t.Fatal("CACertPEM: no certificate")
	}
	sc.DefaultTransport().TLSClientConfig.RootCAs = pool
	vc, err := vim25.NewClient(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	return vc, session.NewManager(vc).Login(ctx, user)
}

func TestHermeticServer(t *testing.T) {
	s := startHermetic(t)
	ctx := context.Background()

	u := s.URL()
	if u.Scheme != "https" || u.Hostname() != "127.0.0.1" || u.Path != "/sdk" || u.User != nil {
		t.Errorf("URL() = %s", u)
	}
	if got := s.Datacenters(); !slices.Equal(got, []string{"DC0"}) {
		t.Errorf("Datacenters() = %v", got)
	}
	user := url.UserPassword("administrator@vsphere.local", testPassword)
	vc, err := newClient(ctx, t, s, user)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	t.Run("about", func(t *testing.T) {
		a := vc.ServiceContent.About
		if a.Version != "8.0.3" || a.Build != "24022515" || a.ApiVersion != "8.0.3.0" || a.ApiType != "VirtualCenter" {
			t.Errorf("About = version %q build %q api %q type %q", a.Version, a.Build, a.ApiVersion, a.ApiType)
		}
	})

	finder := find.NewFinder(vc, true)
	dc, err := finder.Datacenter(ctx, "DC0")
	if err != nil {
		t.Fatal(err)
	}
	finder.SetDatacenter(dc)

	t.Run("node VMs", func(t *testing.T) {
		nodes := s.Nodes()
		want := map[string]string{"node-a1": "10.0.0.11", "node-a2": "10.0.0.12", "node-a3": "10.0.0.14", "node-a4": "10.0.0.15", "node-b1": "10.0.0.13"}
		if len(nodes) != len(want) {
			t.Fatalf("Nodes() = %+v", nodes)
		}
		vms, err := finder.VirtualMachineList(ctx, "*")
		if err != nil || len(vms) != len(want) {
			t.Fatalf("VMs in DC0: %d (%v); want only the %d node VMs", len(vms), err, len(want))
		}
		si := object.NewSearchIndex(vc)
		for _, n := range nodes {
			if want[n.Name] != n.IP || n.Hostname != n.Name || n.Datacenter != "DC0" {
				t.Errorf("node %+v", n)
			}
			vm, err := finder.VirtualMachine(ctx, n.Name)
			if err != nil {
				t.Fatal(err)
			}
			if vm.Reference().Value != n.MoRef {
				t.Errorf("%s: moref %s, Nodes() says %s", n.Name, vm.Reference().Value, n.MoRef)
			}
			// The CPI reads exactly these properties.
			var o mo.VirtualMachine
			if err := vm.Properties(ctx, vm.Reference(), []string{"guest", "summary", "config", "runtime"}, &o); err != nil {
				t.Fatal(err)
			}
			if o.Config.Uuid != n.BIOSUUID || o.Config.InstanceUuid != n.InstanceUUID || n.BIOSUUID == n.InstanceUUID {
				t.Errorf("%s: uuid %q instance %q, Nodes() says %q %q", n.Name, o.Config.Uuid, o.Config.InstanceUuid, n.BIOSUUID, n.InstanceUUID)
			}
			if o.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn {
				t.Errorf("%s: power state %s", n.Name, o.Runtime.PowerState)
			}
			g := o.Guest
			if g.HostName != n.Hostname || g.IpAddress != n.IP || g.ToolsRunningStatus != "guestToolsRunning" {
				t.Errorf("%s: guest hostName %q ipAddress %q tools %q", n.Name, g.HostName, g.IpAddress, g.ToolsRunningStatus)
			}
			if len(g.Net) != 1 || !slices.Equal(g.Net[0].IpAddress, []string{n.IP}) || g.Net[0].DeviceConfigId == -1 || g.Net[0].Network != "VM Network" {
				t.Errorf("%s: guest.net = %+v", n.Name, g.Net)
			}
			if o.Summary.Config.NumCpu != 2 || o.Summary.Config.MemorySizeMB != 4096 || o.Summary.Config.GuestId != "ubuntu64Guest" {
				t.Errorf("%s: summary.config = %+v", n.Name, o.Summary.Config)
			}
			// Four paravirtual SCSI controllers on buses 0..3, the root
			// disk on bus 0: room for the CSI node limit of 59 volumes.
			var buses []int32
			for _, d := range o.Config.Hardware.Device {
				if c, ok := d.(*types.ParaVirtualSCSIController); ok {
					buses = append(buses, c.BusNumber)
					if c.ScsiCtlrUnitNumber != 7 {
						t.Errorf("%s: controller on bus %d uses unit %d, want 7", n.Name, c.BusNumber, c.ScsiCtlrUnitNumber)
					}
				}
			}
			slices.Sort(buses)
			if !slices.Equal(buses, []int32{0, 1, 2, 3}) {
				t.Errorf("%s: paravirtual SCSI controllers on buses %v, want 0..3", n.Name, buses)
			}
			host := object.NewHostSystem(vc, *o.Runtime.Host)
			if name, err := host.ObjectName(ctx); err != nil || name != n.Host || !strings.HasPrefix(name, n.Cluster+"_H") {
				t.Errorf("%s: runs on %q (%v), Nodes() says %q in %q", n.Name, name, err, n.Host, n.Cluster)
			}
			// The CPI finds node VMs by BIOS UUID (lowercase), IP or DNS name.
			if ref, err := si.FindByUuid(ctx, dc, strings.ToLower(n.BIOSUUID), true, nil); err != nil || ref == nil || ref.Reference() != vm.Reference() {
				t.Errorf("%s: FindByUuid = %v, %v", n.Name, ref, err)
			}
			if ref, err := si.FindByIp(ctx, dc, n.IP, true); err != nil || ref == nil || ref.Reference() != vm.Reference() {
				t.Errorf("%s: FindByIp = %v, %v", n.Name, ref, err)
			}
			if refs, err := si.FindAllByDnsName(ctx, dc, n.Hostname, true); err != nil || len(refs) != 1 {
				t.Errorf("%s: FindAllByDnsName = %v, %v", n.Name, refs, err)
			}
		}
	})

	t.Run("tags", func(t *testing.T) {
		rc := rest.NewClient(vc)
		if err := rc.Login(ctx, user); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = rc.Logout(ctx) }()
		tm := tags.NewManager(rc)
		tests := []struct {
			path, category, tag string
		}{
			{"/DC0", "k8s-region", "region-1"},
			{"/DC0/host/cluster-a", "k8s-zone", "zone-a"},
			{"/DC0/host/cluster-b", "k8s-zone", "zone-b"},
		}
		for _, tc := range tests {
			obj, err := finder.ManagedObjectList(ctx, tc.path)
			if err != nil || len(obj) != 1 {
				t.Fatalf("%s: %v", tc.path, err)
			}
			attached, err := tm.GetAttachedTags(ctx, obj[0].Object.Reference())
			if err != nil {
				t.Fatal(err)
			}
			if len(attached) != 1 || attached[0].Name != tc.tag {
				t.Errorf("%s: tags %+v, want %s", tc.path, attached, tc.tag)
				continue
			}
			cat, err := tm.GetCategory(ctx, attached[0].CategoryID)
			if err != nil || cat.Name != tc.category || cat.Cardinality != "SINGLE" {
				t.Errorf("%s: category %+v (%v), want %s", tc.path, cat, err, tc.category)
			}
		}
		// Tags on a datastore mounted by several hosts (the CSI driver's
		// preferred datastores).
		for _, name := range []string{"ds-zone-a", "ds-zone-b"} {
			ds, err := finder.Datastore(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			attached, err := tm.GetAttachedTags(ctx, ds.Reference())
			if err != nil || len(attached) != 1 || attached[0].Name != strings.TrimPrefix(name, "ds-") {
				t.Errorf("%s: tags %+v (%v), want its zone's preferred-datastore tag", name, attached, err)
			}
		}
		// The CSI driver's topology discovery: the tags of a category.
		zones, err := tm.GetTagsForCategory(ctx, "k8s-zone")
		if err != nil || len(zones) != 2 {
			t.Errorf("k8s-zone tags = %+v, %v", zones, err)
		}
	})

	t.Run("storage policies", func(t *testing.T) {
		pc, err := pbm.NewClient(ctx, vc)
		if err != nil {
			t.Fatal(err)
		}
		ids, err := pc.QueryProfile(ctx, pbmtypes.PbmProfileResourceType{ResourceType: "STORAGE"}, "REQUIREMENT")
		if err != nil {
			t.Fatal(err)
		}
		profiles, err := pc.RetrieveContent(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range profiles {
			names = append(names, p.GetPbmProfile().Name)
		}
		for _, want := range append(slices.Clone(builtinPolicies), "vsconform-gold") {
			if !slices.Contains(names, want) {
				t.Errorf("policy %q not listed by PBM: %q", want, names)
			}
		}
		if _, err := pc.ProfileIDByName(ctx, "vsconform-gold"); err != nil {
			t.Error(err)
		}
	})

	t.Run("a tag-based policy allows only the datastores with its tag", func(t *testing.T) {
		pc, err := pbm.NewClient(ctx, vc)
		if err != nil {
			t.Fatal(err)
		}
		id, err := pc.ProfileIDByName(ctx, "vsconform-silver")
		if err != nil {
			t.Fatal(err)
		}
		res, err := pc.CheckRequirements(ctx, nil, nil, []pbmtypes.BasePbmPlacementRequirement{
			&pbmtypes.PbmPlacementCapabilityProfileRequirement{ProfileId: pbmtypes.PbmProfileId{UniqueId: id}},
		})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, h := range pbm.PlacementCompatibilityResult(res).CompatibleDatastores() {
			var ds mo.Datastore
			if err := property.DefaultCollector(vc).RetrieveOne(ctx, types.ManagedObjectReference{Type: h.HubType, Value: h.HubId}, []string{"name"}, &ds); err != nil {
				t.Fatal(err)
			}
			names = append(names, ds.Name)
		}
		if !slices.Equal(names, []string{"LocalDS_0"}) {
			t.Errorf("vsconform-silver allows %q, want only LocalDS_0 (the fixture's tier silver)", names)
		}
	})

	t.Run("kms", func(t *testing.T) {
		km, err := crypto.GetManagerKmip(vc)
		if err != nil {
			t.Fatal(err)
		}
		id, err := km.GetDefaultKmsClusterID(ctx, nil, false)
		if err != nil || id != "vsconform-kms" {
			t.Errorf("default key provider = %q, %v", id, err)
		}
	})

	t.Run("vsan and cns", func(t *testing.T) {
		vs, err := vsan.NewClient(ctx, vc)
		if err != nil {
			t.Fatal(err)
		}
		// The fixture's cluster-a is the vSAN cluster with file service.
		for _, tc := range []struct {
			name        string
			vsan, files bool
		}{{"cluster-a", true, true}, {"cluster-b", false, false}, {"cluster-untagged", false, false}} {
			cl, err := finder.ClusterComputeResource(ctx, tc.name)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := vs.VsanClusterGetConfig(ctx, cl.Reference())
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Enabled == nil || *cfg.Enabled != tc.vsan {
				t.Errorf("%s: vSAN Enabled = %v, want explicit %t", tc.name, cfg.Enabled, tc.vsan)
			}
			if cfg.FileServiceConfig == nil || cfg.FileServiceConfig.Enabled != tc.files {
				t.Errorf("%s: FileServiceConfig = %+v, want Enabled %t", tc.name, cfg.FileServiceConfig, tc.files)
			}
		}
		// The vSAN datastore is shared by cluster-a's hosts only.
		ds, err := finder.Datastore(ctx, "ds-zone-a-vsan")
		if err != nil {
			t.Fatal(err)
		}
		var dso mo.Datastore
		if err := ds.Properties(ctx, ds.Reference(), []string{"summary", "host"}, &dso); err != nil {
			t.Fatal(err)
		}
		if dso.Summary.Type != "vsan" || len(dso.Host) != 3 {
			t.Errorf("ds-zone-a-vsan: type %q on %d hosts, want vsan on cluster-a's 3", dso.Summary.Type, len(dso.Host))
		}
		for _, h := range dso.Host {
			var host mo.HostSystem
			if err := ds.Properties(ctx, h.Key, []string{"name"}, &host); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(host.Name, "cluster-a_") {
				t.Errorf("ds-zone-a-vsan is mounted on %s", host.Name)
			}
		}
		cc, err := cns.NewClient(ctx, vc)
		if err != nil {
			t.Fatal(err)
		}
		res, err := cc.QueryVolume(ctx, &cnstypes.CnsQueryFilter{})
		if err != nil || len(res.Volumes) != 0 {
			t.Errorf("CnsQueryVolume = %+v, %v", res, err)
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		if _, err := newClient(ctx, t, s, url.UserPassword("administrator@vsphere.local", "wrong")); err == nil {
			t.Error("SOAP login with a wrong password succeeded")
		}
		if _, err := newClient(ctx, t, s, url.UserPassword("root", testPassword)); err == nil {
			t.Error("SOAP login as another user succeeded")
		}
		rc := rest.NewClient(vc)
		if err := rc.Login(ctx, url.UserPassword("administrator@vsphere.local", "wrong")); err == nil {
			t.Error("vAPI login with a wrong password succeeded")
		}
	})

	t.Run("untrusted certificate", func(t *testing.T) {
		sc := soap.NewClient(s.URL(), false) // system roots only
		if _, err := vim25.NewClient(ctx, sc); err == nil {
			t.Error("connected without trusting the server's CA")
		}
		sc = soap.NewClient(s.URL(), false)
		sc.SetThumbprint(s.URL().Host, s.Thumbprint())
		if _, err := vim25.NewClient(ctx, sc); err != nil {
			t.Errorf("thumbprint verification: %v", err)
		}
	})
}

func TestStartRefusesNonLoopback(t *testing.T) {
	m, err := LoadModel([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{"0.0.0.0:0", ":0", "10.0.0.1:0", "[::1]:0", "example.com:443", "127.0.0.1"} {
		t.Run(addr, func(t *testing.T) {
			s, err := Start(context.Background(), m, Options{Addr: addr})
			if err == nil {
				_ = s.Close()
				t.Fatalf("Start(%q) succeeded", addr)
			}
			if !strings.Contains(err.Error(), "listen address") {
				t.Errorf("error %q does not name the listen address", err)
			}
		})
	}
}

func TestStartRejectsInvalidModel(t *testing.T) {
	m, err := LoadModel([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	m.Nodes[0].IP = "300.1.1.1"
	if _, err := Start(context.Background(), m, Options{}); err == nil || !strings.Contains(err.Error(), "model: nodes[0].ip") {
		t.Errorf("Start with an invalid model: %v", err)
	}
}

// cnsMarker stands in for an extension vcext installs over a stock SDK
// object.
type cnsMarker struct{ types.ManagedObjectReference }

func (cnsMarker) CnsQueryVolume(*simulator.Context, *cnstypes.CnsQueryVolume) soap.HasFault {
	return &cnsmethods.CnsQueryVolumeBody{Fault_: simulator.Fault("marker extension", &types.InvalidState{})}
}

// With RegisterEndpoints, NewServer registers a fresh CNS registry whose
// objects overwrite existing ones: what vcext installs must survive that.
func TestExtensionsSurviveNewServer(t *testing.T) {
	installed := false
	installExtensions = func(m *simulator.Model) error {
		r := simulator.NewRegistry()
		r.Namespace, r.Path = cns.Namespace, cns.Path
		r.Put(&cnsMarker{cns.CnsVolumeManagerInstance})
		m.Service.RegisterSDK(r) // merged into the CNS registry
		installed = true
		return nil
	}
	defer func() { installExtensions = origInstall }()

	m, err := LoadModel([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, err := Start(ctx, m, Options{Password: testPassword})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	if !installed {
		t.Fatal("extensions were not installed")
	}
	vc, err := newClient(ctx, t, s, url.UserPassword("administrator@vsphere.local", testPassword))
	if err != nil {
		t.Fatal(err)
	}
	cc, err := cns.NewClient(ctx, vc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cc.QueryVolume(ctx, &cnstypes.CnsQueryFilter{}); err == nil || !strings.Contains(err.Error(), "marker extension") {
		t.Errorf("CnsQueryVolume = %v, want the installed extension's fault", err)
	}
}

var origInstall = installExtensions

func TestCloseIsBounded(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		s := startHermetic(t)
		start := time.Now()
		if err := s.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
		if d := time.Since(start); d > CloseTimeout {
			t.Errorf("idle Close took %s", d)
		}
		if err := s.Close(); err != nil { // idempotent
			t.Errorf("second Close() = %v", err)
		}
	})

	t.Run("open long-poll", func(t *testing.T) {
		s := startHermetic(t)
		ctx := context.Background()
		vc, err := newClient(ctx, t, s, url.UserPassword("administrator@vsphere.local", testPassword))
		if err != nil {
			t.Fatal(err)
		}
		pc, err := property.DefaultCollector(vc).Create(ctx)
		if err != nil {
			t.Fatal(err)
		}
		vm := types.ManagedObjectReference{Type: "VirtualMachine", Value: s.Nodes()[0].MoRef}
		if _, err := pc.CreateFilter(ctx, types.CreateFilter{Spec: types.PropertyFilterSpec{
			ObjectSet: []types.ObjectSpec{{Obj: vm}},
			PropSet:   []types.PropertySpec{{Type: "VirtualMachine", PathSet: []string{"name"}}},
		}}); err != nil {
			t.Fatal(err)
		}
		first, err := methods.WaitForUpdatesEx(ctx, vc, &types.WaitForUpdatesEx{This: pc.Reference()})
		if err != nil || first.Returnval == nil {
			t.Fatalf("first WaitForUpdatesEx: %v", err)
		}
		// The second wait has nothing to report: it blocks in vcsim with
		// no timeout, as a driver's task or inventory watch does.
		started := make(chan struct{})
		go func() {
			close(started)
			_, _ = methods.WaitForUpdatesEx(context.Background(), vc, &types.WaitForUpdatesEx{This: pc.Reference(), Version: first.Returnval.Version})
		}()
		<-started
		time.Sleep(300 * time.Millisecond) // let the request reach the server

		begin := time.Now()
		err = s.Close()
		if d := time.Since(begin); d > CloseTimeout+time.Second {
			t.Errorf("Close took %s, bound is %s", d, CloseTimeout)
		}
		if !errors.Is(err, ErrCloseTimeout) {
			t.Errorf("Close() = %v, want ErrCloseTimeout", err)
		}
	})
}

// A model can seed the misconfigurations the preflight finds: a node VM
// without disk.EnableUUID or with an old hardware version, a user whose
// role lacks a privilege.
func TestSeededMisconfigurations(t *testing.T) {
	m, err := LoadModel([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	off := false
	m.Nodes[0].DiskEnableUUID, m.Nodes[0].HardwareVersion = &off, "vmx-13"
	m.VCenter.MissingPrivileges = []string{"Cns.Searchable"}
	ctx := context.Background()
	s, err := Start(ctx, m, Options{Password: testPassword})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	vc, err := newClient(ctx, t, s, url.UserPassword("administrator@vsphere.local", testPassword))
	if err != nil {
		t.Fatal(err)
	}
	config := func(name string) (string, bool) {
		f := find.NewFinder(vc, true)
		dc, err := f.DefaultDatacenter(ctx)
		if err != nil {
			t.Fatal(err)
		}
		vm, err := f.SetDatacenter(dc).VirtualMachine(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		var o mo.VirtualMachine
		if err := vm.Properties(ctx, vm.Reference(), []string{"config.version", "config.extraConfig"}, &o); err != nil {
			t.Fatal(err)
		}
		enabled := false
		for _, e := range o.Config.ExtraConfig {
			if ov := e.GetOptionValue(); ov.Key == "disk.enableUUID" && ov.Value == "TRUE" {
				enabled = true
			}
		}
		return o.Config.Version, enabled
	}
	if v, on := config(m.Nodes[0].Name); v != "vmx-13" || on {
		t.Errorf("seeded node: version %s, disk.enableUUID %v", v, on)
	}
	if len(m.Nodes) > 1 {
		if v, on := config(m.Nodes[1].Name); v != defaultHardwareVersion || !on {
			t.Errorf("default node: version %s, disk.enableUUID %v", v, on)
		}
	}
	res, err := methods.HasPrivilegeOnEntities(ctx, vc, &types.HasPrivilegeOnEntities{This: *vc.ServiceContent.AuthorizationManager,
		Entity: []types.ManagedObjectReference{vc.ServiceContent.RootFolder}, SessionId: "", PrivId: []string{"Cns.Searchable", "System.Read"}})
	if err != nil || len(res.Returnval) != 1 {
		t.Fatal(res, err)
	}
	for _, a := range res.Returnval[0].PrivAvailability {
		if a.IsGranted != (a.PrivId == "System.Read") {
			t.Errorf("%s granted %v", a.PrivId, a.IsGranted)
		}
	}
}
