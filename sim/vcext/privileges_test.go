package vcext

import (
	"context"
	"slices"
	"testing"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"
)

// A withheld privilege is reported as not granted by every way a client
// asks; the others stay granted.
func TestWithholdPrivileges(t *testing.T) {
	ctx := context.Background()
	model := simulator.VPX()
	if err := model.Create(); err != nil {
		t.Fatal(err)
	}
	defer model.Remove()
	if err := WithholdPrivileges(model, []string{"Datastore.FileManagement"}); err != nil {
		t.Fatal(err)
	}
	s := model.Service.NewServer()
	defer s.Close()
	c := login(t, ctx, s)
	am := object.NewAuthorizationManager(c.Client)
	dc := c.ServiceContent.RootFolder
	privs := []string{"Datastore.FileManagement", "System.Read"}

	many, err := methods.HasPrivilegeOnEntities(ctx, c.Client, &types.HasPrivilegeOnEntities{This: am.Reference(),
		Entity: []types.ManagedObjectReference{dc}, SessionId: c.Client.ServiceContent.SessionManager.Value, PrivId: privs})
	if err != nil || len(many.Returnval) != 1 {
		t.Fatal(many, err)
	}
	granted := map[string]bool{}
	for _, a := range many.Returnval[0].PrivAvailability {
		granted[a.PrivId] = a.IsGranted
	}
	if granted["Datastore.FileManagement"] || !granted["System.Read"] {
		t.Errorf("HasPrivilegeOnEntities: %v", granted)
	}

	user, err := am.FetchUserPrivilegeOnEntities(ctx, []types.ManagedObjectReference{dc}, "administrator@vsphere.local")
	if err != nil || len(user) != 1 || slices.Contains(user[0].Privileges, "Datastore.FileManagement") || !slices.Contains(user[0].Privileges, "System.Read") {
		t.Errorf("FetchUserPrivilegeOnEntities: %v %v", user, err)
	}
}
