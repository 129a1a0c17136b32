package target

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/onsi/ginkgo/v2"
	cnstypes "github.com/vmware/govmomi/cns/types"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
)

// checked remembers, per spec, the vCenter objects the spec looked at
// through the Target (CNS volumes, FCDs, VMs' disks), so the report can say
// what each result rests on and a failure can be taken to the vCenter UI.
// Polls look at the same object many times: one line per object, the last.
var checked = struct {
	sync.Mutex
	bySpec map[string]map[string]string
}{bySpec: map[string]map[string]string{}}

func noteChecked(key, line string) {
	spec := ginkgo.CurrentSpecReport().FullText()
	if spec == "" {
		return // suite-level nodes (the leak inventory) check everything
	}
	checked.Lock()
	defer checked.Unlock()
	if checked.bySpec[spec] == nil {
		checked.bySpec[spec] = map[string]string{}
	}
	checked.bySpec[spec][key] = line
}

// Checked returns, sorted, and forgets the vCenter objects the spec named
// by its full text looked at.
func Checked(spec string) []string {
	checked.Lock()
	defer checked.Unlock()
	var out []string
	for _, line := range checked.bySpec[spec] {
		out = append(out, line)
	}
	delete(checked.bySpec, spec)
	sort.Strings(out)
	return out
}

func noteCNSVolume(v *cnstypes.CnsVolume) {
	line := fmt.Sprintf("CNS volume %s %q: %s on %s, policy %s", v.VolumeId.Id, v.Name, v.VolumeType, v.DatastoreUrl, orNone(v.StoragePolicyId))
	if b, ok := v.BackingObjectDetails.(*cnstypes.CnsBlockBackingDetails); ok {
		line += fmt.Sprintf(", %d MiB, backing disk %s", b.CapacityInMb, orNone(b.BackingDiskId))
	}
	noteChecked("cns/"+v.VolumeId.Id, line)
}

func noteFCD(obj *types.VStorageObject, datastore string) {
	line := fmt.Sprintf("FCD %s %q on datastore %s, %d MiB", obj.Config.Id.Id, obj.Config.Name, datastore, obj.Config.CapacityInMB)
	if b, ok := obj.Config.Backing.(*types.BaseConfigInfoDiskFileBackingInfo); ok {
		line += ", file " + b.FilePath
	}
	noteChecked("fcd/"+obj.Config.Id.Id, line)
}

func noteVMDisks(vm *object.VirtualMachine, disks []*types.VirtualDisk) {
	name := vm.InventoryPath
	if name == "" {
		name = vm.Reference().Value
	} else if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	ids := DiskIDs(disks)
	noteChecked("vm/"+vm.Reference().Value, fmt.Sprintf("VM %s (%s): %d disks, FCDs [%s]", name, vm.Reference().Value, len(disks), strings.Join(ids, " ")))
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
