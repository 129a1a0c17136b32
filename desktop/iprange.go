package desktop

import (
	"fmt"
	"net/netip"
	"strings"
)

// Range is an inclusive range of addresses of one family.
type Range struct {
	Start, End netip.Addr
}

func (r Range) String() string {
	if r.Start == r.End {
		return r.Start.String()
	}
	return r.Start.String() + "-" + r.End.String()
}

// Contains reports whether a is in r.
func (r Range) Contains(a netip.Addr) bool {
	return a.IsValid() && a.BitLen() == r.Start.BitLen() && r.Start.Compare(a) <= 0 && a.Compare(r.End) <= 0
}

// Overlaps reports whether r and o share an address.
func (r Range) Overlaps(o Range) bool {
	return r.Start.BitLen() == o.Start.BitLen() && r.Start.Compare(o.End) <= 0 && o.Start.Compare(r.End) <= 0
}

// Within reports whether all of r lies inside p.
func (r Range) Within(p netip.Prefix) bool {
	return p.Contains(r.Start) && p.Contains(r.End)
}

// ParseRange reads an address range as MetalLB writes it: "a-b" (spaces
// around the dash allowed), a CIDR, or a single address.
func ParseRange(s string) (Range, error) {
	s = strings.TrimSpace(s)
	if start, end, ok := strings.Cut(s, "-"); ok {
		a, err := netip.ParseAddr(strings.TrimSpace(start))
		if err != nil {
			return Range{}, fmt.Errorf("range %q: bad start address", s)
		}
		b, err := netip.ParseAddr(strings.TrimSpace(end))
		if err != nil {
			return Range{}, fmt.Errorf("range %q: bad end address", s)
		}
		return NewRange(a, b)
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return Range{}, fmt.Errorf("range %q: bad CIDR", s)
		}
		return prefixRange(p.Masked()), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return Range{}, fmt.Errorf("range %q: not an address, a-b range or CIDR", s)
	}
	return Range{a, a}, nil
}

// NewRange checks that a and b are of one family and a <= b.
func NewRange(a, b netip.Addr) (Range, error) {
	a, b = a.Unmap(), b.Unmap()
	if a.BitLen() != b.BitLen() {
		return Range{}, fmt.Errorf("range %s-%s mixes IPv4 and IPv6", a, b)
	}
	if b.Less(a) {
		return Range{}, fmt.Errorf("range %s-%s ends before it starts", a, b)
	}
	return Range{a, b}, nil
}

// prefixRange returns the addresses of a masked prefix.
func prefixRange(p netip.Prefix) Range {
	start := p.Addr()
	raw := start.AsSlice()
	bits := p.Bits()
	for i := range raw {
		hostBits := max(0, min(8, (i+1)*8-bits))
		raw[i] |= byte(1<<hostBits - 1)
	}
	end, _ := netip.AddrFromSlice(raw)
	return Range{start, end}
}

// subnetOf builds the prefix of a network address and a dotted netmask.
func subnetOf(network, netmask string) (netip.Prefix, error) {
	n, err := netip.ParseAddr(network)
	if err != nil || !n.Is4() {
		return netip.Prefix{}, fmt.Errorf("subnet %q is not an IPv4 address", network)
	}
	m, err := netip.ParseAddr(netmask)
	if err != nil || !m.Is4() {
		return netip.Prefix{}, fmt.Errorf("netmask %q is not an IPv4 mask", netmask)
	}
	ones, ok := maskBits(m.As4())
	if !ok {
		return netip.Prefix{}, fmt.Errorf("netmask %q is not contiguous", netmask)
	}
	p := netip.PrefixFrom(n, ones)
	if p.Masked().Addr() != n {
		return netip.Prefix{}, fmt.Errorf("subnet %s has host bits set for netmask %s", network, netmask)
	}
	return p, nil
}

func maskBits(m [4]byte) (int, bool) {
	v := uint32(m[0])<<24 | uint32(m[1])<<16 | uint32(m[2])<<8 | uint32(m[3])
	ones := 0
	for v&(1<<31) != 0 {
		ones++
		v <<= 1
	}
	return ones, v == 0
}
