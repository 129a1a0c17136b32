package target

import (
	"context"
	"strings"
	"testing"

	cnstypes "github.com/vmware/govmomi/cns/types"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
)

// TestCNSSnapshotsOnVcsim: a volume without snapshots lists none; a volume
// CNS does not have (never made, or deleted) is an error naming it, not an
// empty list, so a check that its snapshots are gone cannot pass on it.
func TestCNSSnapshotsOnVcsim(t *testing.T) {
	simulator.Test(func(ctx context.Context, c *vim25.Client) {
		tg := simTarget(t, ctx, c)
		id := createCNSVolume(t, ctx, tg, "pvc-snaps", simClusterID)

		snaps, err := tg.CNSSnapshots(ctx, id)
		if err != nil || len(snaps) != 0 {
			t.Fatalf("volume without snapshots: %v, %v; want none and no error", snaps, err)
		}

		task, err := tg.CNS.CreateSnapshots(ctx, []cnstypes.CnsSnapshotCreateSpec{{VolumeId: cnstypes.CnsVolumeId{Id: id}, Description: "snap"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := task.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		if snaps, err := tg.CNSSnapshots(ctx, id); err != nil || len(snaps) != 1 {
			t.Fatalf("volume with one snapshot: %v, %v", snaps, err)
		}

		for _, missing := range []string{"00000000-0000-0000-0000-000000000000", id} {
			if missing == id {
				deleteCNSVolume(t, ctx, tg, id)
			}
			snaps, err := tg.CNSSnapshots(ctx, missing)
			if err == nil {
				t.Fatalf("volume %s that CNS does not have: %d snapshots and no error", missing, len(snaps))
			}
			if !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "no such volume") {
				t.Errorf("error %q does not name the missing volume %s", err, missing)
			}
		}
	})
}
