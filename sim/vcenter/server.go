package vcenter

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	vim "github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vsan"
	vsantypes "github.com/vmware/govmomi/vsan/types"

	cnssim "github.com/vmware/govmomi/cns/simulator"
	pbmsim "github.com/vmware/govmomi/pbm/simulator"
	_ "github.com/vmware/govmomi/vapi/simulator" // vAPI /rest and /api: sessions, tags
	vsansim "github.com/vmware/govmomi/vsan/simulator"
	vslmsim "github.com/vmware/govmomi/vslm/simulator"

	"github.com/vsphere-conformance/vsphere-conformance/sim/defects"
	"github.com/vsphere-conformance/vsphere-conformance/sim/faults"
	"github.com/vsphere-conformance/vsphere-conformance/sim/loopback"
	"github.com/vsphere-conformance/vsphere-conformance/sim/loopdisk"
	"github.com/vsphere-conformance/vsphere-conformance/sim/vcext"
)

// Options says where and for whom the simulator listens.
type Options struct {
	// Addr is host:port; the host must be a loopback IPv4 address.
	// Default 127.0.0.1:0 (a free port).
	Addr string
	// Username defaults to the model's vcenter.username.
	Username string
	// Password defaults to a random one (see Server.Password).
	Password string
	// Disks gives FCDs real bytes (loop devices on real nodes); nil: none.
	Disks *loopdisk.Store
	// CertIPs are more addresses the certificate names: where relays
	// present the simulator to pods (a real node's namespace).
	CertIPs []net.IP
	// Faults, when set, serves the fault-injection admin endpoint
	// (sim/faults) once the simulator is provisioned; see Server.Faults.
	Faults *faults.Options
	// Defect, when set, is the defect profile (sim/defects) the simulator
	// runs with: a negative control that answers success while doing the
	// wrong thing. Never set for a target that is not a selftest's.
	Defect string
}

// CloseTimeout bounds Server.Close: vcsim's WaitForUpdatesEx ignores client
// disconnects, so an open long-poll would block an unbounded close forever.
const CloseTimeout = 3 * time.Second

// ErrCloseTimeout is returned by Close when requests were still running
// after CloseTimeout; the server was abandoned, its files removed.
var ErrCloseTimeout = errors.New("vcenter: requests still running after close timeout; server abandoned")

// installExtensions is sim/vcext's hook; tests replace it.
var installExtensions = vcext.Install

// Server is a running simulated vCenter.
type Server struct {
	sim     *simulator.Model
	srv     *simulator.Server
	url     *url.URL
	user    *url.Userinfo
	cert    *x509.Certificate
	certPEM []byte
	nodes   []NodeVM
	dcs     []string
	dir     string
	faults  *faults.Server

	closeOnce sync.Once
	closeErr  error
}

// URL is the SDK endpoint, https://127.0.0.1:PORT/sdk, without credentials.
func (s *Server) URL() *url.URL {
	u := *s.url
	return &u
}

// CACertPEM is the PEM of the server's self-signed certificate, generated
// for this server; clients trust it as their CA.
func (s *Server) CACertPEM() []byte { return slices.Clone(s.certPEM) }

// Thumbprint is the certificate's SHA-1 thumbprint in the form vSphere
// clients use (e.g. the CSI config's "thumbprint").
func (s *Server) Thumbprint() string { return soap.ThumbprintSHA1(s.cert) }

// Username is the only user that can log in.
func (s *Server) Username() string { return s.user.Username() }

// Password is the user's password.
func (s *Server) Password() string {
	p, _ := s.user.Password()
	return p
}

// Nodes are the node VMs, in model order.
func (s *Server) Nodes() []NodeVM { return slices.Clone(s.nodes) }

// Datacenters are the datacenter names, in model order.
func (s *Server) Datacenters() []string { return slices.Clone(s.dcs) }

// Faults is the fault-injection admin endpoint, nil without
// Options.Faults. Its Token is a secret: never log it.
func (s *Server) Faults() *faults.Server { return s.faults }

// Sim is the underlying vcsim model, for fault injection and call counters
// (Service.AddFaultRule, Map().Handler).
func (s *Server) Sim() *simulator.Model { return s.sim }

// Start builds the simulator from m and serves it over TLS on a loopback
// address. Tags, storage policies and the KMS provider are created through
// the public APIs against the running server, so they are exactly what
// clients see.
func Start(ctx context.Context, m *Model, o Options) (_ *Server, err error) {
	if m == nil {
		return nil, errors.New("vcenter: nil model")
	}
	model, err := m.clone()
	if err != nil {
		return nil, fmt.Errorf("vcenter: %w", err)
	}
	if err := model.Validate(); err != nil {
		return nil, err
	}
	// Loopback only: the simulator accepts any password-holder and must never face a network.
	addr, err := loopback.ListenAddr(o.Addr)
	if err != nil {
		return nil, fmt.Errorf("vcenter: %w", err)
	}
	user, err := credentials(model, o)
	if err != nil {
		return nil, err
	}
	cert, err := newCertificate(append([]net.IP{net.ParseIP(mustHost(addr))}, o.CertIPs...))
	if err != nil {
		return nil, fmt.Errorf("vcenter: certificate: %w", err)
	}

	var fs *faults.Server
	if o.Faults != nil {
		if fs, err = faults.New(*o.Faults); err != nil {
			return nil, fmt.Errorf("vcenter: %w", err)
		}
	}

	s := &Server{user: user, cert: cert.Leaf, faults: fs}
	s.certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Leaf.Raw})
	for _, dc := range model.Datacenters {
		s.dcs = append(s.dcs, dc.Name)
	}
	if s.dir, err = os.MkdirTemp("", "vsconform-vcenter-"); err != nil {
		return nil, fmt.Errorf("vcenter: %w", err)
	}
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()

	sm := simulator.VPX()
	// No vcsim default inventory: everything comes from the model.
	sm.Datacenter, sm.Portgroup, sm.Host, sm.Cluster, sm.ClusterHost = 0, 0, 0, 0, 0
	sm.Datastore, sm.Machine, sm.Autostart = 0, 0, false
	// vSphere Web Services API, AboutInfo: set before Create(), which copies
	// the ServiceContent into the ServiceInstance.
	about := &sm.ServiceContent.About
	about.Version = model.VCenter.Version
	about.Build = model.VCenter.Build
	about.ApiVersion = apiVersion(model.VCenter.Version)
	about.FullName = fmt.Sprintf("VMware vCenter Server %s build-%s", model.VCenter.Version, model.VCenter.Build)
	if err := sm.Create(); err != nil {
		return nil, fmt.Errorf("vcenter: create: %w", err)
	}
	s.sim = sm

	// The inventory is built in process, before the server listens, so
	// vcext.Install sees it.
	inproc, err := vim25.NewClient(ctx, sm.Service)
	if err != nil {
		return nil, fmt.Errorf("vcenter: %w", err)
	}
	inv, err := buildInventory(ctx, inproc, model, s.dir)
	if err != nil {
		return nil, fmt.Errorf("vcenter: inventory: %w", err)
	}
	s.nodes = inv.nodes
	renameVSANDatastores(sm, inv)

	sdks := registerSDKs(sm.Service, model, inv)
	if err := installExtensions(sm); err != nil {
		return nil, fmt.Errorf("vcenter: extensions: %w", err)
	}
	if err := vcext.SetDatastoreTags(sm, datastoreTagLookup(model, inv)); err != nil {
		return nil, fmt.Errorf("vcenter: %w", err)
	}
	if err := vcext.WithholdPrivileges(sm, model.VCenter.MissingPrivileges); err != nil {
		return nil, fmt.Errorf("vcenter: privileges: %w", err)
	}
	if err := vcext.SetDiskStore(sm, o.Disks); err != nil {
		return nil, fmt.Errorf("vcenter: disks: %w", err)
	}
	if o.Defect != "" {
		// After the extensions: its hooks see a call before theirs.
		if err := defects.Install(sm, o.Defect); err != nil {
			return nil, fmt.Errorf("vcenter: %w", err)
		}
	}
	if fs != nil {
		// After the extensions, so its call hooks chain theirs.
		if err := fs.Attach(ctx, sm); err != nil {
			return nil, fmt.Errorf("vcenter: %w", err)
		}
	}

	sm.Service.RegisterEndpoints = true
	// vcsim enforces these credentials on SOAP Login and vAPI sessions.
	sm.Service.Listen = &url.URL{Host: addr, User: user}
	sm.Service.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	snap := snapshot(sdks)
	if s.srv, err = newServer(sm.Service); err != nil {
		return nil, err
	}
	restore(snap)
	if fs != nil {
		fs.Front(s.srv) // before any client, provisioning included
	}
	s.url = &url.URL{Scheme: "https", Host: s.srv.URL.Host, Path: s.srv.URL.Path}

	if err := provision(ctx, s, model, inv); err != nil {
		return nil, fmt.Errorf("vcenter: %w", err)
	}
	if fs != nil {
		// Ready: calls count from here, provisioning's do not.
		if err := fs.Start(); err != nil {
			return nil, fmt.Errorf("vcenter: %w", err)
		}
	}
	return s, nil
}

// registerSDKs serves CNS and vSAN (both at /vsanHealth), PBM and VSLM, and
// makes every cluster's vSAN config say whether vSAN is enabled: vsan's
// simulator leaves Enabled nil, which the CSI driver dereferences.
func registerSDKs(svc *simulator.Service, m *Model, inv *inventory) []*simulator.Registry {
	health := cnssim.New()
	svc.RegisterSDK(health)
	svc.RegisterSDK(vsansim.New()) // same path: merged into health
	pbm, vslm := pbmsim.New(), vslmsim.New()
	svc.RegisterSDK(pbm)
	svc.RegisterSDK(vslm)

	ccs := health.Get(vsan.VsanVcClusterConfigSystemInstance).(*vsansim.ClusterConfigSystem)
	if ccs.Config == nil {
		ccs.Config = map[vim.ManagedObjectReference]*vsantypes.VsanConfigInfoEx{}
	}
	for _, dc := range m.Datacenters {
		for _, c := range dc.Clusters {
			// vSAN Management API, VsanVcClusterConfigSystem.
			// VsanClusterGetConfig: Enabled and the default host config
			// (cluster uuid) are always reported by vCenter.
			ccs.Config[inv.clusters[[2]string{dc.Name, c.Name}]] = &vsantypes.VsanConfigInfoEx{
				VsanClusterConfigInfo: vsantypes.VsanClusterConfigInfo{
					Enabled: vim.NewBool(c.VSAN != nil),
					DefaultConfig: &vim.VsanClusterConfigInfoHostDefaultInfo{
						Uuid: nameUUID("vsan", dc.Name+"/"+c.Name),
					},
				},
				FileServiceConfig: fileServiceConfig(c.VSAN),
			}
		}
	}
	return []*simulator.Registry{health, pbm, vslm}
}

// renameVSANDatastores gives vSAN datastores their model names (vSphere
// Web Services API, Datastore.RenameDatastore, which vcsim lacks: the
// simulator's object is renamed in place, before any client connects).
func renameVSANDatastores(sm *simulator.Model, inv *inventory) {
	for ref, name := range inv.vsan {
		ds, ok := sm.Map().Get(ref).(*simulator.Datastore)
		if !ok || ds.Name == name {
			continue
		}
		ds.Name = name
		ds.Summary.Name = name
		ds.Info.GetDatastoreInfo().Name = name
	}
}

// fileServiceConfig is what VsanClusterGetConfig reports as the cluster's
// file service (vSAN Management API, VsanFileServiceConfig: enabled, and
// the domain with its file servers' static IPs). Always set, Enabled false
// without file service, as clients read it on every vSAN cluster.
func fileServiceConfig(v *VSAN) *vsantypes.VsanFileServiceConfig {
	if v == nil || v.FileService == nil {
		return &vsantypes.VsanFileServiceConfig{Enabled: false}
	}
	fs := v.FileService
	domain := vsantypes.VsanFileServiceDomainConfig{Name: fs.Domain}
	for i, ip := range fs.IPs {
		domain.FileServerIpConfig = append(domain.FileServerIpConfig, vsantypes.VsanFileServiceIpConfig{
			HostIpConfig: vim.HostIpConfig{IpAddress: ip, SubnetMask: "255.255.255.0"},
			IsPrimary:    vim.NewBool(i == 0),
		})
	}
	return &vsantypes.VsanFileServiceConfig{Enabled: true, Domains: []vsantypes.VsanFileServiceDomainConfig{domain}}
}

// sdkSnapshot keeps the objects of an SDK registry across NewServer: with
// RegisterEndpoints, NewServer registers fresh CNS/vSAN/PBM/VSLM registries
// again, and Service.RegisterSDK copies their objects over the existing ones
// (losing our vSAN config and whatever vcext installed).
type sdkSnapshot struct {
	reg  *simulator.Registry
	objs []mo.Reference
}

func snapshot(regs []*simulator.Registry) []sdkSnapshot {
	var s []sdkSnapshot
	for _, r := range regs {
		s = append(s, sdkSnapshot{reg: r, objs: r.AllReference("")})
	}
	return s
}

func restore(snaps []sdkSnapshot) {
	for _, s := range snaps {
		for _, o := range s.objs {
			s.reg.Put(o)
		}
	}
}

// newServer turns vcsim's panic on a failed listen into an error.
func newServer(svc *simulator.Service) (srv *simulator.Server, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("vcenter: listen on %s: %v", svc.Listen.Host, r)
		}
	}()
	return svc.NewServer(), nil
}

func mustHost(addr string) string {
	h, _, _ := net.SplitHostPort(addr)
	return h
}

func credentials(m *Model, o Options) (*url.Userinfo, error) {
	user, pass := o.Username, o.Password
	if user == "" {
		user = m.VCenter.Username
	}
	if pass == "" {
		b := make([]byte, 18)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("vcenter: password: %w", err)
		}
		pass = base64.RawURLEncoding.EncodeToString(b)
	}
	return url.UserPassword(user, pass), nil
}

// newCertificate makes a self-signed ECDSA certificate for the IPs,
// 127.0.0.1 and localhost, so clients can verify the server instead of
// skipping checks.
func newCertificate(ips []net.IP) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "vsphere-conformance vcenter simulator"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(30 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           ips,
		DNSNames:              []string{"localhost"},
	}
	if !slices.ContainsFunc(ips, func(ip net.IP) bool { return ip.Equal(net.IPv4(127, 0, 0, 1)) }) {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.IPv4(127, 0, 0, 1))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// Close stops the server within CloseTimeout and removes its files. It
// returns ErrCloseTimeout if requests (long-polls) were still running.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		if s.faults != nil {
			_ = s.faults.Close()
		}
		if s.srv != nil {
			done := make(chan struct{})
			go func() {
				s.srv.CloseClientConnections()
				s.srv.Close()
				close(done)
			}()
			select {
			case <-done:
			case <-time.After(CloseTimeout):
				s.closeErr = ErrCloseTimeout
			}
		}
		if s.sim != nil {
			s.sim.Remove()
		}
		if s.dir != "" {
			_ = os.RemoveAll(s.dir)
		}
	})
	return s.closeErr
}

// datastoreTagLookup tells SPBM the tags provision attaches to datastores.
func datastoreTagLookup(m *Model, inv *inventory) vcext.TagLookup {
	tags := map[vim.ManagedObjectReference][]vcext.Tag{}
	for _, dc := range m.Datacenters {
		for _, ds := range dc.Datastores {
			ref := inv.datastores[[2]string{dc.Name, ds.Name}]
			for _, t := range ds.Tags {
				tags[ref] = append(tags[ref], vcext.Tag{Category: t.Category, Name: t.Tag})
			}
		}
	}
	return func(ds vim.ManagedObjectReference) []vcext.Tag { return tags[ds] }
}
