package faults

import (
	"regexp"
	"strings"

	"github.com/vsphere-conformance/vsphere-conformance/target"
)

// endpoints are the keys of target.VCenterCalls, always present.
var endpoints = []string{"vim25", "cns", "pbm", "vslm", "vapi"}

// calls are the served calls by endpoint and method, under Server.mu.
type calls map[string]map[string]int64

// count records one call served, once vCenter is ready.
func (s *Server) count(endpoint, method string) {
	if !s.counting.Load() {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.counts[endpoint]
	if m == nil {
		m = map[string]int64{}
		s.counts[endpoint] = m
	}
	m[method]++
}

// snapshot copies the counts.
func (s *Server) snapshot() target.VCenterCalls {
	out := target.VCenterCalls{}
	for _, e := range endpoints {
		out[e] = map[string]int64{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for e, m := range s.counts {
		for k, v := range m {
			out[e][k] = v
		}
	}
	return out
}

// morefValue looks like a managed object id in a vAPI path: vm-42,
// domain-c7, datastore-15, group-d1.
var morefValue = regexp.MustCompile(`^[a-z]+-[a-z]*[0-9]+$`)

// vapiCallName names a vAPI call as "METHOD /path" with the ids in its path
// collapsed to {id} and its action kept: "POST /rest/com/vmware/cis/session",
// "GET /api/cis/tagging/tag/{id}",
// "POST /rest/com/vmware/cis/tagging/tag-association?~action=list-attached-tags".
func vapiCallName(method, path string, action func(string) string) string {
	segs := strings.Split(path, "/")
	for i, seg := range segs {
		if isID(seg) {
			segs[i] = "{id}"
		}
	}
	name := method + " " + strings.Join(segs, "/")
	if a := action("~action"); a != "" {
		name += "?~action=" + a
	} else if a := action("action"); a != "" {
		name += "?action=" + a
	}
	return name
}

// isID tells a path segment that names one object (a tag or category URN,
// a UUID, "id:..." or a moref value) from one that names a resource.
func isID(seg string) bool {
	if seg == "" {
		return false
	}
	if strings.Contains(seg, ":") || morefValue.MatchString(seg) {
		return true
	}
	digits, hexdash := true, true
	for _, c := range seg {
		switch {
		case c >= '0' && c <= '9':
		case c >= 'a' && c <= 'f', c >= 'A' && c <= 'F', c == '-':
			digits = false
		default:
			digits, hexdash = false, false
		}
	}
	return digits || (hexdash && len(seg) >= 32 && strings.Count(seg, "-") >= 4)
}
