// Package node holds what a real kubelet node of the hermetic target needs
// besides the upstream binaries: the mount and network namespace it lives in,
// the configs of containerd, CNI and the kubelet, and the CSI node driver
// registrar (kubernetes-csi/node-driver-registrar is not served by the module
// proxy, so the project has its own).
package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc"
	registerapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

// Registrar answers the kubelet's plugin watcher for one CSI driver: the
// kubelet finds the socket in its plugins_registry directory, asks GetInfo for
// the driver's name and CSI endpoint, then calls the driver's NodeGetInfo and
// reports the outcome with NotifyRegistrationStatus.
type Registrar struct {
	registerapi.UnimplementedRegistrationServer
	Driver   string    // e.g. csi.vsphere.vmware.com
	Endpoint string    // the driver's CSI socket path, as the kubelet dials it
	Log      io.Writer // registration outcomes

	// Registered receives the kubelet's verdicts (nil: registered).
	Registered chan error
}

// GetInfo tells the kubelet which CSI driver this socket stands for.
func (r *Registrar) GetInfo(context.Context, *registerapi.InfoRequest) (*registerapi.PluginInfo, error) {
	return &registerapi.PluginInfo{
		Type:              registerapi.CSIPlugin,
		Name:              r.Driver,
		Endpoint:          r.Endpoint,
		SupportedVersions: []string{"1.0.0"},
	}, nil
}

// NotifyRegistrationStatus records the kubelet's verdict. A failed
// registration is logged; the kubelet retries while the socket exists.
func (r *Registrar) NotifyRegistrationStatus(_ context.Context, st *registerapi.RegistrationStatus) (*registerapi.RegistrationStatusResponse, error) {
	var err error
	if !st.PluginRegistered {
		err = fmt.Errorf("kubelet did not register %s: %s", r.Driver, st.Error)
	}
	if r.Log != nil {
		if err != nil {
			fmt.Fprintln(r.Log, err)
		} else {
			fmt.Fprintf(r.Log, "kubelet registered %s (endpoint %s)\n", r.Driver, r.Endpoint)
		}
	}
	if r.Registered != nil {
		select {
		case r.Registered <- err:
		default:
		}
	}
	if err != nil && r.Log != nil {
		fmt.Fprintf(r.Log, "offering the registration socket again in %s\n", RetryPause)
	}
	return &registerapi.RegistrationStatusResponse{}, nil
}

// RegistrationSocket is where the kubelet's plugin watcher looks for the
// driver's registration socket under its root directory.
func RegistrationSocket(kubeletRoot, driver string) string {
	return filepath.Join(kubeletRoot, "plugins_registry", driver+"-reg.sock")
}

// ServeRegistrar serves r on the unix socket until ctx ends, then removes the
// socket (which is how the kubelet learns the plugin is gone). The kubelet
// tries a socket once: when it reports a failed registration (e.g. the node
// plugin's NodeGetInfo ran before the Node existed), the socket is made anew
// after a pause, which the kubelet's plugin watcher sees as a new plugin, as
// the upstream node-driver-registrar gets by exiting and being restarted.
func ServeRegistrar(ctx context.Context, r *Registrar, socket string) error {
	if r.Driver == "" || r.Endpoint == "" {
		return errors.New("registrar: driver name and endpoint are required")
	}
	if err := os.MkdirAll(filepath.Dir(socket), 0o750); err != nil {
		return err
	}
	verdicts := r.Registered
	if verdicts == nil {
		verdicts = make(chan error, 1)
		r.Registered = verdicts
	}
	defer os.Remove(socket)
	for {
		failed, err := serveOnce(ctx, r, socket, verdicts)
		if err != nil || !failed {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(RetryPause):
		}
	}
}

// RetryPause is how long the registrar waits before offering its socket again.
var RetryPause = 2 * time.Second

// serveOnce serves until ctx ends (failed false) or the kubelet reports a
// failed registration (failed true).
func serveOnce(ctx context.Context, r *Registrar, socket string, verdicts chan error) (failed bool, err error) {
	if err := os.Remove(socket); err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, err
	}
	l, err := net.Listen("unix", socket)
	if err != nil {
		return false, fmt.Errorf("registrar: %w", err)
	}
	srv := grpc.NewServer()
	registerapi.RegisterRegistrationServer(srv, r)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	for {
		select {
		case <-ctx.Done():
			srv.Stop()
			<-served
			return false, nil
		case err := <-served:
			return false, fmt.Errorf("registrar: %w", err)
		case verdict := <-verdicts:
			if verdict == nil {
				continue // registered; keep serving
			}
			// Graceful: the kubelet's NotifyRegistrationStatus call gets
			// its answer before the socket goes.
			srv.GracefulStop()
			<-served
			os.Remove(socket)
			return true, nil
		}
	}
}
