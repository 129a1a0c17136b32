package faults

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// Components stops and starts the hermetic target's components. The stack
// provides it (its processes are recorded in its state directory); the
// endpoint only carries the requests.
type Components interface {
	List() []target.ComponentStatus
	// Do runs one action and returns once it is done: a start or restart
	// once the component serves again.
	Do(ctx context.Context, name, action string) (target.ComponentStatus, error)
}

// ErrUnknownComponent is returned by Components.Do for a name it does not run.
var ErrUnknownComponent = errors.New("no such component")

func (s *Server) listComponents(w http.ResponseWriter, _ *http.Request) {
	if s.components == nil {
		reply(w, http.StatusOK, []target.ComponentStatus{})
		return
	}
	reply(w, http.StatusOK, s.components.List())
}

func (s *Server) componentAction(w http.ResponseWriter, r *http.Request) {
	if s.components == nil {
		http.Error(w, "components: this vCenter runs no component control (sim vcenter --state-dir)", http.StatusNotImplemented)
		return
	}
	name := r.PathValue("name")
	var a target.ComponentAction
	if err := decode(r, &a); err != nil {
		http.Error(w, "component action: "+err.Error(), http.StatusBadRequest)
		return
	}
	if !slices.Contains([]string{target.ActionStop, target.ActionStart, target.ActionRestart}, a.Action) {
		http.Error(w, "component action: "+a.Action+" is not stop, start or restart", http.StatusBadRequest)
		return
	}
	st, err := s.components.Do(r.Context(), name, a.Action)
	switch {
	case errors.Is(err, ErrUnknownComponent):
		http.Error(w, "component "+name+": "+err.Error(), http.StatusNotFound)
	case err != nil:
		http.Error(w, "component "+name+": "+a.Action+": "+err.Error(), http.StatusInternalServerError)
	default:
		reply(w, http.StatusOK, st)
	}
}
