package target

import (
	"context"
	"fmt"
	"net/url"

	"github.com/vmware/govmomi/cns"
	"github.com/vmware/govmomi/pbm"
	"github.com/vmware/govmomi/vslm"
)

// Relogin logs the harness's own clients in again, as every vCenter client
// must after a vCenter restart ended its sessions: vim25 first, then new
// CNS and PBM clients (govmomi copies the session cookie into a service
// client when it is made, so the old ones keep the dead session) and the
// vAPI session the tag manager uses.
func (t *Target) Relogin(ctx context.Context) error {
	v := t.Config.VCenter
	password, err := v.password()
	if err != nil {
		return fmt.Errorf("relogin: passwordFile %s", pathError(v.PasswordFile, err))
	}
	user := url.UserPassword(v.Username, password.Reveal())
	if err := t.VC.Login(ctx, user); err != nil {
		return fmt.Errorf("relogin: vim25 login as %s: %w", v.Username, err)
	}
	vimc := t.VC.Client
	if t.CNS, err = cns.NewClient(ctx, vimc); err != nil {
		return fmt.Errorf("relogin: CNS: %w", err)
	}
	if t.PBM, err = pbm.NewClient(ctx, vimc); err != nil {
		return fmt.Errorf("relogin: PBM: %w", err)
	}
	t.VSLM = vslm.NewObjectManager(vimc)
	if err := t.VAPI.Login(ctx, user); err != nil {
		return fmt.Errorf("relogin: vAPI login as %s: %w", v.Username, err)
	}
	return nil
}
