package main

import (
	"context"
	"os"
	"time"

	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// connectTarget loads and validates the target config (the file, then the
// KUBECONFIG/GOVC_* environment) and connects to the target; every error is
// a usage/config/connection error (exit 2).
func connectTarget(ctx context.Context, configPath string) (*target.Config, *target.Target, error) {
	cfg, err := target.LoadConfig(configPath, os.Getenv)
	if err != nil {
		return nil, nil, usageErr("%v", err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, nil, usageErr("%v", err)
	}
	connectCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	t, err := target.Connect(connectCtx, cfg)
	if err != nil {
		return nil, nil, usageErr("%v", err)
	}
	return cfg, t, nil
}
