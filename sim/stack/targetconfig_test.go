package stack

import "testing"

// A dry run selects specs by the capabilities `sim up` would declare for
// the model: the default model has zones and a real node.
func TestPlannedConfigDefaultModel(t *testing.T) {
	cfg, err := PlannedConfig("")
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Capabilities
	if !c.BlockVolumes || !c.Topology || !c.DataPath || !c.OnlineExpansion || !c.FaultInjection || cfg.DataImage == "" {
		t.Errorf("capabilities %+v, data image %q", c, cfg.DataImage)
	}
	if _, err := PlannedConfig("/nonexistent/model.yaml"); err == nil {
		t.Error("a missing model file was accepted")
	}
}
