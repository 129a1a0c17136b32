// Package defects holds the hermetic vCenter's defect profiles: negative
// controls of the suites (DESIGN.md, rule 7). Each profile is one realistic
// integration bug - vCenter answering success while doing the wrong thing -
// that `vsconform sim up --defect NAME` starts the simulated vCenter with,
// and that some spec must catch with a failure naming the symptom
// (`vsconform selftest` proves it). A profile is not a fault: faults
// (sim/faults) are what an integration must survive; a defect is what the
// suites must refuse to pass.
//
// A profile breaks one documented vSphere behaviour, named in its Breaks,
// through call hooks on the simulator's registries that run before the
// extensions of sim/vcext: it rewrites the request, answers in place of the
// real handler, or damages what the real handler made.
package defects

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/vmware/govmomi/simulator"
)

// Profile is one defect.
type Profile struct {
	// Name is kebab-case; specs that catch it carry the label
	// "catches-" + Name (suites/labels.Catches).
	Name string
	// Breaks is the documented vSphere behaviour the defect breaks, with
	// the reference it is documented in.
	Breaks string
	// Symptom is a regular expression (matched case-insensitively) that the
	// failure message of a spec catching the defect matches: the failure
	// names what is wrong, not only that something timed out.
	Symptom string
	// install adds the defect's hooks to a created model with the
	// extensions (sim/vcext) installed.
	install func(m *simulator.Model) error
}

// Matches says whether a failure message names the profile's symptom.
func (p Profile) Matches(message string) bool {
	return regexp.MustCompile("(?is)" + p.Symptom).MatchString(message)
}

// profiles is every profile; each file of the package adds its group.
var profiles = slices.Concat(blockProfiles, attachProfiles, snapshotProfiles, fileProfiles, vmProfiles)

// All returns every profile, sorted by name.
func All() []Profile {
	out := slices.Clone(profiles)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Names returns the profiles' names, sorted.
func Names() []string {
	var out []string
	for _, p := range All() {
		out = append(out, p.Name)
	}
	return out
}

// Lookup returns the profile named name.
func Lookup(name string) (Profile, bool) {
	for _, p := range profiles {
		if p.Name == name {
			return p, true
		}
	}
	return Profile{}, false
}

// Check says, in one line, why name is no profile; nil if it is one.
func Check(name string) error {
	if _, ok := Lookup(name); ok {
		return nil
	}
	return fmt.Errorf("no defect profile %q; profiles: %s", name, strings.Join(Names(), ", "))
}

// Install adds the named profile to m: a model created and extended by
// sim/vcext (vcext.Install), before its server starts.
func Install(m *simulator.Model, name string) error {
	p, ok := Lookup(name)
	if !ok {
		return Check(name)
	}
	if err := p.install(m); err != nil {
		return fmt.Errorf("defect %s: %w", name, err)
	}
	return nil
}
