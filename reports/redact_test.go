package reports

import (
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	tests := []struct {
		name    string
		secrets []string
		in      string
		want    string
	}{
		{"raw", []string{"hunter22"}, "password=hunter22;", "password=[REDACTED];"},
		{"every occurrence", []string{"hunter22"}, "hunter22 hunter22", "[REDACTED] [REDACTED]"},
		{"query escaped", []string{"p@ss word/1"}, "?pw=p%40ss+word%2F1&x", "?pw=[REDACTED]&x"},
		{"path escaped", []string{"p@ss word/1"}, "/login/p@ss%20word%2F1", "/login/[REDACTED]"},
		{"url user info", []string{"p@ss:w/rd"}, "https://admin:p%40ss%3Aw%2Frd@vc/sdk", "https://admin:[REDACTED]@vc/sdk"},
		{"json escaped", []string{`a"quoted"pw`}, `{"password":"a\"quoted\"pw"}`, `{"password":"[REDACTED]"}`},
		{"html escaped", []string{"<pw&1>"}, "value=&lt;pw&amp;1&gt;", "value=[REDACTED]"},
		{"base64 in a Secret", []string{"hunter22"}, "password: " + base64.StdEncoding.EncodeToString([]byte("hunter22")), "password: [REDACTED]"},
		{"longest secret first", []string{"admin", "admin-password"}, "admin-password", "[REDACTED]"},
		{"several secrets", []string{"token-123", "pw-4567"}, "token-123/pw-4567", "[REDACTED]/[REDACTED]"},
		{"short secrets ignored", []string{"abc", "", "   ", "\t\t\t\t"}, "abc is not secret\t\t\t\t", "abc is not secret\t\t\t\t"},
		{"four characters count", []string{"abcd"}, "xabcdx", "x[REDACTED]x"},
		{"multibyte length counts runes", []string{"äöü", "äöüß"}, "äöü äöüß", "äöü [REDACTED]"},
		{"no secrets", nil, "anything", "anything"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NewRedactor(tt.secrets...).Redact(tt.in); got != tt.want {
				t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	if got := (Redactor{}).Redact("hunter22"); got != "hunter22" {
		t.Errorf("zero Redactor changed text: %q", got)
	}
}

func TestRedactRunCopiesAndCoversEveryString(t *testing.T) {
	orig := sampleRun()
	orig.Specs[0].Labels = append(orig.Specs[0].Labels, canary)
	orig.Specs[0].Measurements[0].Name = canary
	orig.Specs[0].SkipReason = canary
	orig.LabelFilter, orig.Focus, orig.Logs[0] = canary, canary, canary
	before := mustJSON(t, orig)

	red := NewRedactor(canary).Run(orig)

	if mustJSON(t, orig) != before {
		t.Fatal("Redactor.Run modified its input")
	}
	// Walking every string of the result catches fields added to the model
	// later but forgotten in Redactor.Run.
	walkStrings(reflect.ValueOf(red), "Run", func(path, s string) {
		if strings.Contains(s, canary) {
			t.Errorf("%s still holds the secret: %q", path, s)
		}
	})
	if red.Specs[1].Name != "CSI attach attaches with user pw [REDACTED]" {
		t.Errorf("name = %q", red.Specs[1].Name)
	}
}

func walkStrings(v reflect.Value, path string, visit func(path, s string)) {
	switch v.Kind() {
	case reflect.String:
		visit(path, v.String())
	case reflect.Pointer:
		if !v.IsNil() {
			walkStrings(v.Elem(), path, visit)
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			walkStrings(v.Index(i), path+"["+strconv.Itoa(i)+"]", visit)
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				walkStrings(v.Field(i), path+"."+v.Type().Field(i).Name, visit)
			}
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
