package vcext

import (
	"errors"
	"slices"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// WithholdPrivileges makes the AuthorizationManager answer, for every
// session, that these privileges are not granted on any entity, as vCenter
// does for a user whose role lacks them: vSphere Web Services API,
// AuthorizationManager.HasPrivilegeOnEntities / HasUserPrivilegeOnEntities ("PrivilegeAvailability.isGranted") and
// FetchUserPrivilegeOnEntities (the privileges the user has on each
// entity). vcsim grants everything; this seeds the preflight's "missing
// privilege" finding. It changes only what is reported: vcsim does not
// enforce privileges on operations, and neither does this.
func WithholdPrivileges(m *simulator.Model, privileges []string) error {
	if m == nil || m.Service == nil {
		return errors.New("vcext: WithholdPrivileges needs a created model")
	}
	if len(privileges) == 0 {
		return nil
	}
	withheld := slices.Clone(privileges)
	observeCalls(m.Map(), func(ctx *simulator.Context, call *simulator.Method) {
		switch call.Name {
		case "HasPrivilegeOnEntities", "HasUserPrivilegeOnEntities", "FetchUserPrivilegeOnEntities":
		default:
			return
		}
		am, ok := ctx.Map.Get(call.This).(*simulator.AuthorizationManager)
		if !ok || ctx.Session == nil {
			return
		}
		if _, done := ctx.Session.Registry.Get(am.Self).(*privilegeWithholder); !done {
			ctx.Session.Registry.Put(&privilegeWithholder{AuthorizationManager: am, withheld: withheld})
		}
	})
	return nil
}

// privilegeWithholder is the shared AuthorizationManager with the withheld
// privileges taken out of its answers.
type privilegeWithholder struct {
	*simulator.AuthorizationManager
	withheld []string
}

func (p *privilegeWithholder) ungrant(entities []types.EntityPrivilege) {
	for i := range entities {
		for j := range entities[i].PrivAvailability {
			if slices.Contains(p.withheld, entities[i].PrivAvailability[j].PrivId) {
				entities[i].PrivAvailability[j].IsGranted = false
			}
		}
	}
}

func (p *privilegeWithholder) HasPrivilegeOnEntities(req *types.HasPrivilegeOnEntities) soap.HasFault {
	body := p.AuthorizationManager.HasPrivilegeOnEntities(req)
	if b, ok := body.(*methods.HasPrivilegeOnEntitiesBody); ok && b.Res != nil {
		p.ungrant(b.Res.Returnval)
	}
	return body
}

func (p *privilegeWithholder) HasUserPrivilegeOnEntities(req *types.HasUserPrivilegeOnEntities) soap.HasFault {
	body := p.AuthorizationManager.HasUserPrivilegeOnEntities(req)
	if b, ok := body.(*methods.HasUserPrivilegeOnEntitiesBody); ok && b.Res != nil {
		p.ungrant(b.Res.Returnval)
	}
	return body
}

func (p *privilegeWithholder) FetchUserPrivilegeOnEntities(req *types.FetchUserPrivilegeOnEntities) soap.HasFault {
	body := p.AuthorizationManager.FetchUserPrivilegeOnEntities(req)
	if b, ok := body.(*methods.FetchUserPrivilegeOnEntitiesBody); ok && b.Res != nil {
		for i := range b.Res.Returnval {
			b.Res.Returnval[i].Privileges = slices.DeleteFunc(slices.Clone(b.Res.Returnval[i].Privileges),
				func(id string) bool { return slices.Contains(p.withheld, id) })
		}
	}
	return body
}
