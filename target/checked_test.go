package target

import (
	"testing"

	cnstypes "github.com/vmware/govmomi/cns/types"
)

// Outside a spec (the leak inventory, `vsconform audit`) nothing is noted.
func TestCheckedOutsideASpec(t *testing.T) {
	noteCNSVolume(&cnstypes.CnsVolume{VolumeId: cnstypes.CnsVolumeId{Id: "v1"}})
	checked.Lock()
	n := len(checked.bySpec)
	checked.Unlock()
	if n != 0 || len(Checked("")) != 0 {
		t.Errorf("noted outside a spec: %v", checked.bySpec)
	}
}

func TestCheckedOnePerObject(t *testing.T) {
	checked.Lock()
	checked.bySpec["spec a"] = map[string]string{"cns/v1": "CNS volume v1 (first look)"}
	checked.Unlock()
	checked.Lock()
	checked.bySpec["spec a"]["cns/v1"] = "CNS volume v1 (last look)"
	checked.bySpec["spec a"]["fcd/f1"] = "FCD f1"
	checked.Unlock()
	got := Checked("spec a")
	if len(got) != 2 || got[0] != "CNS volume v1 (last look)" || got[1] != "FCD f1" {
		t.Errorf("Checked: %v", got)
	}
	if again := Checked("spec a"); len(again) != 0 {
		t.Errorf("not forgotten: %v", again)
	}
}
