package target

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/cns"
	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/pbm"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/session/keepalive"
	vapi "github.com/vmware/govmomi/vapi/rest"
	"github.com/vmware/govmomi/vapi/tags"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vslm"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Connection failure classes; test with errors.Is.
var (
	ErrKubeconfig          = errors.New("bad kubeconfig")
	ErrKubeUnreachable     = errors.New("kubernetes API unreachable")
	ErrKubeAuth            = errors.New("kubernetes API rejected credentials")
	ErrVCenterUnreachable  = errors.New("vcenter unreachable")
	ErrTLSUntrusted        = errors.New("vcenter TLS certificate not trusted")
	ErrLogin               = errors.New("vcenter login failed")
	ErrDatacenterNotFound  = errors.New("datacenter not found")
	ErrVCenterServiceError = errors.New("vcenter service unavailable")
)

// Timeouts for Connect's probes, so an unreachable endpoint fails fast
// instead of hanging the run.
var (
	KubePingTimeout   = 15 * time.Second
	VCenterTimeout    = 60 * time.Second
	keepAliveInterval = 10 * time.Minute
)

// connectError is a one-line message with a class for errors.Is.
type connectError struct {
	class error
	msg   string
}

func (e *connectError) Error() string        { return e.msg }
func (e *connectError) Is(target error) bool { return target == e.class }

// Connect validates cfg and builds every client. Its errors are one line,
// say which part failed (see the Err* classes) and never hold the password.
func Connect(ctx context.Context, cfg *Config) (*Target, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	secrets := cfg.Secrets()
	fail := func(class error, format string, args ...any) error {
		return &connectError{class: class, msg: scrub(oneLine(fmt.Sprintf(format, args...)), secrets)}
	}

	t := &Target{Config: cfg}
	if err := t.connectKube(ctx, fail); err != nil {
		return nil, err
	}
	if err := t.connectVCenter(ctx, fail); err != nil {
		_ = t.Close()
		return nil, err
	}
	return t, nil
}

type failFunc func(class error, format string, args ...any) error

func (t *Target) connectKube(ctx context.Context, fail failFunc) error {
	path := t.Config.Kubeconfig
	var rc *rest.Config
	var err error
	if t.Config.InCluster && path == "" {
		path = "the pod's service account"
		if rc, err = rest.InClusterConfig(); err != nil {
			return fail(ErrKubeconfig, "kubernetes: in-cluster config: %v", err)
		}
	} else if rc, err = clientcmd.BuildConfigFromFlags("", path); err != nil {
		return fail(ErrKubeconfig, "kubernetes: kubeconfig %s: %v", path, err)
	}
	rc.UserAgent = "vsconform"
	// Scale specs create objects in bursts; client-go's default 5 QPS would
	// measure the client, not the target.
	rc.QPS, rc.Burst = 50, 100
	if t.Kube, err = kubernetes.NewForConfig(rc); err != nil {
		return fail(ErrKubeconfig, "kubernetes: kubeconfig %s: %v", path, err)
	}
	if t.Dynamic, err = dynamic.NewForConfig(rc); err != nil {
		return fail(ErrKubeconfig, "kubernetes: kubeconfig %s: %v", path, err)
	}
	t.REST = rc

	pctx, cancel := context.WithTimeout(ctx, KubePingTimeout)
	defer cancel()
	err = t.Kube.Discovery().RESTClient().Get().AbsPath("/version").Do(pctx).Error()
	switch {
	case err == nil:
		return nil
	case apierrors.IsUnauthorized(err) || apierrors.IsForbidden(err):
		return fail(ErrKubeAuth, "kubernetes: API server %s rejected the credentials in %s: %v", rc.Host, path, err)
	case pctx.Err() != nil:
		return fail(ErrKubeUnreachable, "kubernetes: API server %s unreachable: no answer within %s", rc.Host, KubePingTimeout)
	default:
		return fail(ErrKubeUnreachable, "kubernetes: API server %s unreachable: %v", rc.Host, err)
	}
}

func (t *Target) connectVCenter(ctx context.Context, fail failFunc) error {
	v := t.Config.VCenter
	u, err := url.Parse(v.URL)
	if err != nil {
		return fail(ErrVCenterUnreachable, "vcenter: %q is not a URL", redactURL(v.URL))
	}
	where := u.String()
	vctx, cancel := context.WithTimeout(ctx, VCenterTimeout)
	defer cancel()
	unreachable := func(err error) error {
		if soap.IsCertificateUntrusted(err) {
			return fail(ErrTLSUntrusted, "vcenter: %s: TLS: certificate not trusted; set vcenter.caFile or vcenter.insecure (%v)", where, err)
		}
		// Trusted but unusable: expired, not yet valid, not for servers.
		var invalid x509.CertificateInvalidError
		if errors.As(err, &invalid) {
			return fail(ErrTLSUntrusted, "vcenter: %s: TLS: certificate rejected: %v", where, invalid)
		}
		if vctx.Err() != nil && ctx.Err() == nil {
			return fail(ErrVCenterUnreachable, "vcenter: %s unreachable: no answer within %s", where, VCenterTimeout)
		}
		return fail(ErrVCenterUnreachable, "vcenter: %s unreachable: %v", where, err)
	}

	sc := soap.NewClient(u, v.Insecure)
	if !v.Insecure && v.CAFile != "" {
		if err := sc.SetRootCAs(v.CAFile); err != nil {
			return fail(ErrTLSUntrusted, "vcenter: caFile %s: %v", v.CAFile, err)
		}
	}
	vimc, err := vim25.NewClient(vctx, sc)
	if err != nil {
		return unreachable(err)
	}
	if !vimc.IsVC() {
		return fail(ErrVCenterServiceError, "vcenter: %s is %s, not vCenter (CNS needs vCenter)", where, vimc.ServiceContent.About.FullName)
	}
	// Long runs can sit idle on the vCenter side for longer than the session timeout.
	vimc.RoundTripper = keepalive.NewHandlerSOAP(vimc.RoundTripper, keepAliveInterval, nil)

	password, err := v.password()
	if err != nil {
		return fail(ErrLogin, "vcenter: passwordFile %s", pathError(v.PasswordFile, err))
	}
	user := url.UserPassword(v.Username, password.Reveal())
	vc := &govmomi.Client{Client: vimc, SessionManager: session.NewManager(vimc)}
	if err := vc.Login(vctx, user); err != nil {
		if fault.Is(err, &types.InvalidLogin{}) {
			return fail(ErrLogin, "vcenter: login as %s failed: incorrect user name or password", v.Username)
		}
		if isNetworkError(err) {
			return unreachable(err)
		}
		return fail(ErrLogin, "vcenter: login as %s failed: %v", v.Username, err)
	}
	t.VC = vc

	t.Finder = find.NewFinder(vimc, true)
	dc, err := t.Finder.DatacenterOrDefault(vctx, v.Datacenter)
	if err != nil {
		var nf *find.NotFoundError
		switch {
		case errors.As(err, &nf):
			return fail(ErrDatacenterNotFound, "vcenter: datacenter %q not found", v.Datacenter)
		case v.Datacenter == "":
			return fail(ErrDatacenterNotFound, "vcenter: no single default datacenter (%v); set vcenter.datacenter or GOVC_DATACENTER", err)
		default:
			return fail(ErrDatacenterNotFound, "vcenter: datacenter %q: %v", v.Datacenter, err)
		}
	}
	t.Datacenter = dc
	t.Finder.SetDatacenter(dc)

	if t.CNS, err = cns.NewClient(vctx, vimc); err != nil {
		return fail(ErrVCenterServiceError, "vcenter: CNS service: %v", err)
	}
	if t.PBM, err = pbm.NewClient(vctx, vimc); err != nil {
		return fail(ErrVCenterServiceError, "vcenter: PBM (storage policy) service: %v", err)
	}
	t.VSLM = vslm.NewObjectManager(vimc)

	rc := vapi.NewClient(vimc)
	rc.Transport = keepalive.NewHandlerREST(rc, keepAliveInterval, nil)
	if err := rc.Login(vctx, user); err != nil {
		if vapi.IsStatusError(err, 401) {
			return fail(ErrLogin, "vcenter: vAPI login as %s failed: incorrect user name or password", v.Username)
		}
		return fail(ErrVCenterServiceError, "vcenter: vAPI (tagging) login as %s failed: %v", v.Username, err)
	}
	t.VAPI = rc
	t.Tags = tags.NewManager(rc)
	return nil
}

// isNetworkError tells a transport failure from a fault vCenter returned.
func isNetworkError(err error) bool {
	return !soap.IsSoapFault(err) && !soap.IsVimFault(err)
}

// scrub removes secrets from a message: a last guard, since the messages
// above never format the password on purpose.
func scrub(msg string, secrets []string) string {
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, redacted)
		}
	}
	return msg
}
