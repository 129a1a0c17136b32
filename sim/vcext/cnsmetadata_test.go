package vcext

import (
	"slices"
	"testing"

	cnstypes "github.com/vmware/govmomi/cns/types"
)

func kent(kind, ns, name string, del bool) cnstypes.BaseCnsEntityMetadata {
	return &cnstypes.CnsKubernetesEntityMetadata{
		CnsEntityMetadata: cnstypes.CnsEntityMetadata{EntityName: name, ClusterID: "c1", Delete: del},
		EntityType:        kind, Namespace: ns,
	}
}

func names(es []cnstypes.BaseCnsEntityMetadata) []string {
	var out []string
	for _, e := range es {
		k := keyOf(e)
		out = append(out, k.kind+":"+k.namespace+"/"+k.name)
	}
	return out
}

func TestMergeEntities(t *testing.T) {
	pv := kent("PERSISTENT_VOLUME", "", "pv1", false)
	pvc := kent("PERSISTENT_VOLUME_CLAIM", "ns", "data", false)
	pod := kent("POD", "ns", "app", false)
	tests := []struct {
		name             string
		current, updates []cnstypes.BaseCnsEntityMetadata
		want             []string
	}{
		{"add to empty", nil, []cnstypes.BaseCnsEntityMetadata{pv}, []string{"PERSISTENT_VOLUME:/pv1"}},
		{"other entities kept", []cnstypes.BaseCnsEntityMetadata{pv}, []cnstypes.BaseCnsEntityMetadata{pvc},
			[]string{"PERSISTENT_VOLUME:/pv1", "PERSISTENT_VOLUME_CLAIM:ns/data"}},
		{"same entity replaced", []cnstypes.BaseCnsEntityMetadata{pv, pvc}, []cnstypes.BaseCnsEntityMetadata{kent("PERSISTENT_VOLUME", "", "pv1", false)},
			[]string{"PERSISTENT_VOLUME:/pv1", "PERSISTENT_VOLUME_CLAIM:ns/data"}},
		{"delete removes", []cnstypes.BaseCnsEntityMetadata{pv, pvc, pod}, []cnstypes.BaseCnsEntityMetadata{kent("POD", "ns", "app", true)},
			[]string{"PERSISTENT_VOLUME:/pv1", "PERSISTENT_VOLUME_CLAIM:ns/data"}},
		{"delete of unknown is a no-op", []cnstypes.BaseCnsEntityMetadata{pv}, []cnstypes.BaseCnsEntityMetadata{kent("POD", "ns", "x", true)},
			[]string{"PERSISTENT_VOLUME:/pv1"}},
		{"same name other namespace is another entity", []cnstypes.BaseCnsEntityMetadata{pvc}, []cnstypes.BaseCnsEntityMetadata{kent("PERSISTENT_VOLUME_CLAIM", "other", "data", false)},
			[]string{"PERSISTENT_VOLUME_CLAIM:ns/data", "PERSISTENT_VOLUME_CLAIM:other/data"}},
		{"delete all", []cnstypes.BaseCnsEntityMetadata{pv}, []cnstypes.BaseCnsEntityMetadata{kent("PERSISTENT_VOLUME", "", "pv1", true)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := names(mergeEntities(tt.current, tt.updates))
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
