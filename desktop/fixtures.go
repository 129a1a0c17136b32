package desktop

import (
	"io/fs"
	"path"
	"slices"
)

// GoodCase is the name of the talk's working setup in a fixture tree.
const GoodCase = "good"

// FixtureCase is one setup in a fixture tree laid out as
// <platform>/<case>/<root layout> (fixtures/desktop).
type FixtureCase struct {
	Platform Platform
	Name     string // "good" or the mistake it shows
	Dir      string // slash path of the case's root inside the tree
}

// FixtureCases lists the cases below dir in fsys, sorted.
func FixtureCases(fsys fs.FS, dir string) ([]FixtureCase, error) {
	var out []FixtureCase
	for _, p := range Platforms {
		entries, err := fs.ReadDir(fsys, path.Join(dir, string(p)))
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if e.IsDir() {
				out = append(out, FixtureCase{Platform: p, Name: e.Name(), Dir: path.Join(dir, string(p), e.Name())})
			}
		}
	}
	slices.SortFunc(out, func(a, b FixtureCase) int {
		if a.Platform != b.Platform {
			return slices.Index(Platforms, a.Platform) - slices.Index(Platforms, b.Platform)
		}
		if a.Name == b.Name {
			return 0
		}
		if a.Name < b.Name {
			return -1
		}
		return 1
	})
	return out, nil
}

// CheckFixture checks one case of the tree in fsys on vmnet8.
func CheckFixture(fsys fs.FS, c FixtureCase) (Report, error) {
	sub, err := fs.Sub(fsys, c.Dir)
	if err != nil {
		return Report{}, err
	}
	return Check(FSOptions(sub, c.Platform, DefaultVMnet)), nil
}
