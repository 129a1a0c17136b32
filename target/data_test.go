package target

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

func TestNewPayload(t *testing.T) {
	for _, size := range []int{2, 100, 4096, 16 << 10} {
		p := NewPayload("seed", size)
		sum := sha256.Sum256([]byte(p.Content))
		switch {
		case len(p.Content) != size:
			t.Errorf("size %d: got %d bytes", size, len(p.Content))
		case !strings.HasSuffix(p.Content, "\n"):
			t.Errorf("size %d: no final newline", size)
		case p.SHA256 != hex.EncodeToString(sum[:]):
			t.Errorf("size %d: checksum does not match the content", size)
		}
	}
	if NewPayload("a", 64).SHA256 == NewPayload("b", 64).SHA256 {
		t.Error("two seeds gave the same payload")
	}
}

func TestOutputParsers(t *testing.T) {
	out := "abc123  /data/x/payload\nfirst line: hello world\nother\n"
	for _, tc := range []struct{ got, want string }{
		{ChecksumIn(out, "/data/x/payload"), "abc123"},
		{ChecksumIn(out, "/data/y"), ""},
		{FirstLine(out), "hello world"},
		{FirstLine("nothing"), ""},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
