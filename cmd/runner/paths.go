package main

import (
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

// simPaths are where the hermetic target's binaries and state live. By
// default both sit beside the vsconform binary (make builds everything into
// _build/bin, so the state goes to _build/sim).
type simPaths struct {
	binDir   string
	stateDir string
}

func (p *simPaths) addFlags(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&p.binDir, "bin-dir", "", "directory of the pinned upstream binaries (default: the directory of vsconform; env VSCONFORM_BIN_DIR)")
	cmd.PersistentFlags().StringVar(&p.stateDir, "state-dir", "", "state directory of the hermetic target (default: <bin-dir>/../sim; env VSCONFORM_STATE_DIR)")
}

func (p *simPaths) resolve() (self string, err error) {
	self, err = os.Executable()
	if err != nil {
		return "", err
	}
	if p.binDir == "" {
		p.binDir = os.Getenv("VSCONFORM_BIN_DIR")
	}
	if p.binDir == "" {
		p.binDir = filepath.Dir(self)
	}
	if p.stateDir == "" {
		p.stateDir = os.Getenv("VSCONFORM_STATE_DIR")
	}
	if p.stateDir == "" {
		p.stateDir = filepath.Join(filepath.Dir(p.binDir), "sim")
	}
	if p.binDir, err = filepath.Abs(p.binDir); err != nil {
		return "", err
	}
	p.stateDir, err = filepath.Abs(p.stateDir)
	return self, err
}
