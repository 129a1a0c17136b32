package labels

import "testing"

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		filter  string
		wantErr bool
	}{
		{"", false},
		{"csi", false},
		{"csi && !scale", false},
		{"(csi || cpi) && provisioning", false},
		{"csi,negative", false},
		{"/prov.*/", false},
		{"csii", true},
		{"csi && !scael", true},
		{"csi &&", true},
		{"(csi", true},
	} {
		err := Validate(tc.filter)
		if (err != nil) != tc.wantErr {
			t.Errorf("Validate(%q) = %v, want error %v", tc.filter, err, tc.wantErr)
		}
	}
}
