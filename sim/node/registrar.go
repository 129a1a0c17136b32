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

	// Registered receives the kubelet's verdict once (nil: registered).
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
	return &registerapi.RegistrationStatusResponse{}, nil
}

// RegistrationSocket is where the kubelet's plugin watcher looks for the
// driver's registration socket under its root directory.
func RegistrationSocket(kubeletRoot, driver string) string {
	return filepath.Join(kubeletRoot, "plugins_registry", driver+"-reg.sock")
}

// ServeRegistrar serves r on the unix socket until ctx ends, then removes the
// socket (which is how the kubelet learns the plugin is gone).
func ServeRegistrar(ctx context.Context, r *Registrar, socket string) error {
	if r.Driver == "" || r.Endpoint == "" {
		return errors.New("registrar: driver name and endpoint are required")
	}
	if err := os.MkdirAll(filepath.Dir(socket), 0o750); err != nil {
		return err
	}
	if err := os.Remove(socket); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	l, err := net.Listen("unix", socket)
	if err != nil {
		return fmt.Errorf("registrar: %w", err)
	}
	defer os.Remove(socket)
	srv := grpc.NewServer()
	registerapi.RegisterRegistrationServer(srv, r)
	go func() {
		<-ctx.Done()
		srv.Stop()
	}()
	if err := srv.Serve(l); err != nil && ctx.Err() == nil {
		return fmt.Errorf("registrar: %w", err)
	}
	return nil
}
