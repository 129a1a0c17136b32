package vcext

import (
	"context"
	"testing"
	"time"

	"github.com/vmware/govmomi"
	cnssim "github.com/vmware/govmomi/cns/simulator"
	pbmsim "github.com/vmware/govmomi/pbm/simulator"
	"github.com/vmware/govmomi/simulator"
)

// startSim starts a VPX simulator the way the project's server does: Create,
// register CNS, (Install), NewServer. RegisterEndpoints is on, so NewServer
// registers cns/simulator a second time, which the CNS overrides must survive.
func startSim(t *testing.T, install bool) (*simulator.Model, *simulator.Server) {
	t.Helper()
	return startSimWith(t, install, nil)
}

// startSimWith lets edit change the model's settings before Create.
func startSimWith(t *testing.T, install bool, edit func(*simulator.Model)) (*simulator.Model, *simulator.Server) {
	t.Helper()
	model := simulator.VPX()
	if edit != nil {
		edit(model)
	}
	if err := model.Create(); err != nil {
		t.Fatal(err)
	}
	model.Service.RegisterSDK(cnssim.New())
	model.Service.RegisterSDK(pbmsim.New()) // before Install, as the server does
	model.Service.RegisterEndpoints = true
	if install {
		if err := Install(model); err != nil {
			t.Fatal(err)
		}
	}
	s := model.Service.NewServer()
	t.Cleanup(func() {
		closeServer(t, s, 10*time.Second)
		model.Remove()
	})
	return model, s
}

// closeServer bounds Server.Close, which waits for open long-polls.
func closeServer(t *testing.T, s *simulator.Server, limit time.Duration) {
	done := make(chan struct{})
	go func() {
		s.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(limit):
		t.Logf("simulator server did not close within %s (long-polls still open)", limit)
	}
}

// login opens a new client session.
func login(t *testing.T, ctx context.Context, s *simulator.Server) *govmomi.Client {
	t.Helper()
	c, err := govmomi.NewClient(ctx, s.URL, true)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
