package target

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// vcenterURL is a vCenter SDK URL split from the credentials it may carry.
type vcenterURL struct {
	url      string // without userinfo
	user     string
	password Secret
}

// parseVCenterURL accepts what govc accepts in GOVC_URL: a bare host,
// host:port, or a full URL, each possibly with user:password@. It defaults
// the scheme to https and the path to /sdk. Errors never echo credentials.
func parseVCenterURL(raw string) (vcenterURL, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return vcenterURL{}, errors.New("empty URL")
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		scheme, rest = "https", raw
	}
	// Split user:password@ off by hand: user names such as
	// administrator@vsphere.local hold an '@' that url.Parse rejects.
	var out vcenterURL
	authority, tail := rest, ""
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority, tail = rest[:i], rest[i:]
	}
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		user, pass, _ := strings.Cut(authority[:i], ":")
		out.user, out.password = unescape(user), Secret(unescape(pass))
		authority = authority[i+1:]
	}
	u, err := url.Parse(scheme + "://" + authority + tail)
	if err != nil {
		return vcenterURL{}, fmt.Errorf("%q is not a URL", redactURL(raw))
	}
	if u.Hostname() == "" {
		return vcenterURL{}, fmt.Errorf("%q has no host", redactURL(raw))
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/sdk"
	}
	out.url = u.String()
	return out, nil
}

// unescape decodes %XX escapes, keeping the text as is when it has none
// that are valid (a literal % in a password).
func unescape(s string) string {
	if d, err := url.PathUnescape(s); err == nil {
		return d
	}
	return s
}

// redactURL hides anything before the last '@' of the authority, for
// messages about URLs that may not even parse.
func redactURL(raw string) string {
	rest, scheme := raw, ""
	if i := strings.Index(raw, "://"); i >= 0 {
		scheme, rest = raw[:i+3], raw[i+3:]
	}
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		return scheme + redacted + "@" + rest[i+1:]
	}
	return raw
}
