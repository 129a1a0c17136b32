package vcext

import (
	"fmt"
	"sync"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"
)

// In vCenter the default PropertyCollector (ServiceContent.propertyCollector)
// is session-specific (vSphere Web Services SDK Programming Guide, Property
// Collector): one well-known moref, but sessions never see each other's
// filters or wait calls. vcsim does keep one collector object per session,
// but WaitForUpdatesEx registers it with Registry.AddHandler keyed by its
// Self, which is that shared moref: the last session to start waiting evicts
// every other session's handler, and their tasks never complete. Here each
// session's collector gets a unique Self (the handler key) while Reference()
// keeps the shared moref (the registry key), so every session keeps its own
// handler.

// sessionCollector is a session's default PropertyCollector. All methods are
// those of the embedded simulator collector, whose receiver (and so the
// handler registered by WaitForUpdatesEx) carries the unique Self.
type sessionCollector struct {
	*simulator.PropertyCollector

	shared   types.ManagedObjectReference
	owner    *sessionCollectors
	registry *simulator.Registry // the session registry holding it
	keys     map[string]struct{} // session keys using it (clones share a registry)
	wait     waitState           // versioned updates for concurrent waiters (collectorwait.go)
}

// Reference is the moref clients use: ServiceContent.propertyCollector.
func (c *sessionCollector) Reference() types.ManagedObjectReference { return c.shared }

type sessionCollectors struct {
	shared types.ManagedObjectReference

	mu sync.Mutex
	// sweepEvery bounds how often sessions that ended without Logout (idle
	// timeout, TerminateSession) are looked for, to release their handlers.
	sweepEvery time.Duration
	seq        int
	byKey      map[string]*sessionCollector
	users      map[string]string // session key -> user name, for SessionIsActive
	lastSweep  time.Time
}

// newSessionCollectors is installed with observeCalls(vim, c.onCall).
func newSessionCollectors(vim *simulator.Registry) *sessionCollectors {
	si := vim.Get(vim25.ServiceInstance).(*simulator.ServiceInstance)
	return &sessionCollectors{
		shared:     si.Content.PropertyCollector,
		sweepEvery: time.Minute,
		byKey:      make(map[string]*sessionCollector),
		users:      make(map[string]string),
		lastSweep:  time.Now(),
	}
}

// onCall runs before every vim25 method: it gives a session its collector
// on its first call and releases collectors of sessions that ended.
func (c *sessionCollectors) onCall(ctx *simulator.Context, m *simulator.Method) {
	if ctx.Session == nil {
		return // Login, RetrieveServiceContent, ...
	}
	c.mu.Lock()
	defer c.mu.Unlock()

	if m.Name == "Logout" {
		c.drop(ctx, ctx.Session.Key)
		return
	}
	c.ensure(ctx)
	c.sweep(ctx)
}

// ensure puts a sessionCollector into the session's registry. It uses
// Registry.Put, not Session.Put: the latter would reset Self to the shared
// moref.
func (c *sessionCollectors) ensure(ctx *simulator.Context) {
	key, reg := ctx.Session.Key, ctx.Session.Registry
	if sc, ok := c.byKey[key]; ok && reg.Get(c.shared) == sc {
		return
	}

	switch cur := reg.Get(c.shared).(type) {
	case *sessionCollector:
		if cur.owner == c {
			c.track(ctx, key, cur) // a cloned session sharing the registry
			return
		}
		// Left by another simulator instance in this process (vcsim's
		// in-process session registry is global): replace it.
	case *simulator.PropertyCollector:
		if len(cur.Filter) != 0 {
			return // in use by stock code; replacing it would orphan its filters
		}
	}

	c.seq++
	pc := &simulator.PropertyCollector{}
	pc.Self = types.ManagedObjectReference{
		Type:  c.shared.Type,
		Value: fmt.Sprintf("%s-session-%d", c.shared.Value, c.seq),
	}
	sc := &sessionCollector{
		PropertyCollector: pc,
		shared:            c.shared,
		owner:             c,
		registry:          reg,
		keys:              make(map[string]struct{}),
	}
	reg.Put(sc)
	c.track(ctx, key, sc)
}

func (c *sessionCollectors) track(ctx *simulator.Context, key string, sc *sessionCollector) {
	if old, ok := c.byKey[key]; ok && old != sc {
		c.drop(ctx, key)
	}
	sc.keys[key] = struct{}{}
	c.byKey[key] = sc
	c.users[key] = ctx.Session.UserName
}

// drop forgets a session key; the collector is released with its last key.
// Stock Logout removes the session's filters but skips the collector.
func (c *sessionCollectors) drop(ctx *simulator.Context, key string) {
	sc, ok := c.byKey[key]
	if !ok {
		return
	}
	delete(c.byKey, key)
	delete(c.users, key)
	delete(sc.keys, key)
	if len(sc.keys) != 0 {
		return
	}
	sc.CancelWaitForUpdates(&types.CancelWaitForUpdates{This: sc.shared})
	ctx.Map.RemoveHandler(sc.PropertyCollector) // keyed by the unique Self
	if sc.registry.Get(sc.shared) == sc {
		sc.registry.Remove(ctx, sc.shared)
	}
}

// sweep releases collectors of sessions the SessionManager no longer knows
// (expired or terminated): the hook never sees those sessions again, and a
// registered handler keeps queueing every inventory update.
func (c *sessionCollectors) sweep(ctx *simulator.Context) {
	if time.Since(c.lastSweep) < c.sweepEvery {
		return
	}
	c.lastSweep = time.Now()

	sm := ctx.Map.SessionManager()
	for key, user := range c.users {
		if key == ctx.Session.Key {
			continue
		}
		res, ok := sm.SessionIsActive(ctx, &types.SessionIsActive{
			This:      sm.Self,
			SessionID: key,
			UserName:  user,
		}).(*methods.SessionIsActiveBody)
		if !ok || res.Res == nil {
			return // e.g. NotImplemented on an ESX model
		}
		if !res.Res.Returnval {
			c.drop(ctx, key)
		}
	}
}
