package faults

import (
	"net/url"
	"testing"
)

func TestVAPICallName(t *testing.T) {
	for _, tc := range []struct{ method, target, want string }{
		{"POST", "/rest/com/vmware/cis/session", "POST /rest/com/vmware/cis/session"},
		{"POST", "/rest/com/vmware/cis/session?~action=get", "POST /rest/com/vmware/cis/session?~action=get"},
		{"GET", "/rest/com/vmware/cis/tagging/category/id:urn:vmomi:InventoryServiceCategory:0b0b6e6b-4e79-4a8f-9f1d-2d3c4b5a6978:GLOBAL", "GET /rest/com/vmware/cis/tagging/category/{id}"},
		{"GET", "/api/cis/tagging/tag/urn:vmomi:InventoryServiceTag:1:GLOBAL", "GET /api/cis/tagging/tag/{id}"},
		{"POST", "/rest/com/vmware/cis/tagging/tag-association?~action=list-attached-tags", "POST /rest/com/vmware/cis/tagging/tag-association?~action=list-attached-tags"},
		{"POST", "/api/cis/tagging/tag-association/urn:x?action=attach", "POST /api/cis/tagging/tag-association/{id}?action=attach"},
		{"GET", "/api/vcenter/vm/vm-42", "GET /api/vcenter/vm/{id}"},
		{"GET", "/api/vcenter/cluster/domain-c7", "GET /api/vcenter/cluster/{id}"},
		{"GET", "/api/content/library/6c3a1b52-7b4e-4c1e-9d2f-0a1b2c3d4e5f", "GET /api/content/library/{id}"},
		{"GET", "/api/vcenter/namespace-management/clusters", "GET /api/vcenter/namespace-management/clusters"},
	} {
		u, err := url.Parse(tc.target)
		if err != nil {
			t.Fatal(err)
		}
		if got := vapiCallName(tc.method, u.Path, u.Query().Get); got != tc.want {
			t.Errorf("%s %s = %q, want %q", tc.method, tc.target, got, tc.want)
		}
	}
}
