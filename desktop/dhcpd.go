package desktop

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// DHCPConf is a parsed vmnet DHCP server config. VMware's vmnet-dhcpd is a
// port of ISC dhcpd 2.0 and reads its syntax, in three places:
// Workstation for Windows %ProgramData%\VMware\vmnetdhcp.conf (every vmnet
// in one file, each introduced by "# Virtual ethernet segment N"),
// Workstation for Linux /etc/vmware/vmnetN/dhcpd/dhcpd.conf and Fusion
// /Library/Preferences/VMware Fusion/vmnetN/dhcpd.conf.
type DHCPConf struct {
	Subnets []DHCPSubnet
	Hosts   []DHCPHost
}

// DHCPSubnet is a `subnet A netmask M { ... }` declaration.
type DHCPSubnet struct {
	Prefix  netip.Prefix
	Ranges  []Range      // range statements: the dynamic pool
	Routers []netip.Addr // option routers
	// Segment is N from the "# Virtual ethernet segment N" comment before
	// the declaration (Windows vmnetdhcp.conf), else -1.
	Segment int
}

// DHCPHost is a `host NAME { hardware ethernet ...; fixed-address ...; }`
// declaration; `host vmnetN` is the host's own adapter on that network.
type DHCPHost struct {
	Name         string
	Hardware     string
	FixedAddress netip.Addr
	Segment      int
}

var segmentComment = regexp.MustCompile(`(?i)^#\s*virtual ethernet segment\s+(\d+)`)

// dhcpToken is a word, a quoted string or one of ; { }.
type dhcpToken struct {
	text    string
	line    int
	segment int // the last segment comment seen before it
}

func tokenizeDHCP(data string) ([]dhcpToken, error) {
	var out []dhcpToken
	segment := -1
	for lineNo, line := range strings.Split(data, "\n") {
		line = strings.TrimRight(line, "\r")
		if m := segmentComment.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
			segment, _ = strconv.Atoi(m[1])
		}
		i := 0
		for i < len(line) {
			c := line[i]
			switch {
			case c == '#':
				i = len(line)
			case c == ' ' || c == '\t':
				i++
			case c == ';' || c == '{' || c == '}':
				out = append(out, dhcpToken{string(c), lineNo + 1, segment})
				i++
			case c == '"':
				j := strings.IndexByte(line[i+1:], '"')
				if j < 0 {
					return nil, fmt.Errorf("line %d: unterminated string", lineNo+1)
				}
				out = append(out, dhcpToken{line[i : i+j+2], lineNo + 1, segment})
				i += j + 2
			default:
				j := i
				for j < len(line) && !strings.ContainsRune(" \t;{}#\"", rune(line[j])) {
					j++
				}
				out = append(out, dhcpToken{line[i:j], lineNo + 1, segment})
				i = j
			}
		}
	}
	return out, nil
}

// dhcpStatement is a statement's words, and its block when it has one.
type dhcpStatement struct {
	words    []dhcpToken
	block    []dhcpStatement
	hasBlock bool
}

func parseDHCPBlock(toks []dhcpToken, i int, nested bool, openLine int) ([]dhcpStatement, int, error) {
	var out []dhcpStatement
	var cur []dhcpToken
	for i < len(toks) {
		t := toks[i]
		switch t.text {
		case ";":
			if len(cur) > 0 {
				out = append(out, dhcpStatement{words: cur})
			}
			cur = nil
			i++
		case "{":
			if len(cur) == 0 {
				return nil, 0, fmt.Errorf("line %d: block without a declaration", t.line)
			}
			block, next, err := parseDHCPBlock(toks, i+1, true, t.line)
			if err != nil {
				return nil, 0, err
			}
			out = append(out, dhcpStatement{words: cur, block: block, hasBlock: true})
			cur = nil
			i = next
		case "}":
			if !nested {
				return nil, 0, fmt.Errorf("line %d: unexpected }", t.line)
			}
			if len(cur) > 0 {
				return nil, 0, fmt.Errorf("line %d: statement %q has no ;", cur[0].line, joinWords(cur))
			}
			return out, i + 1, nil
		default:
			cur = append(cur, t)
			i++
		}
	}
	if nested {
		return nil, 0, fmt.Errorf("line %d: block is not closed with }", openLine)
	}
	if len(cur) > 0 {
		return nil, 0, fmt.Errorf("line %d: statement %q has no ;", cur[0].line, joinWords(cur))
	}
	return out, i, nil
}

func joinWords(ts []dhcpToken) string {
	var s []string
	for _, t := range ts {
		s = append(s, t.text)
	}
	return strings.Join(s, " ")
}

// ParseDHCPConf parses a vmnet dhcpd config. Statements other than subnet,
// host, range, option routers, hardware and fixed-address are accepted and
// ignored; unbalanced braces, a missing ; or a bad address are errors that
// name the line.
func ParseDHCPConf(data []byte) (*DHCPConf, error) {
	toks, err := tokenizeDHCP(string(data))
	if err != nil {
		return nil, err
	}
	stmts, _, err := parseDHCPBlock(toks, 0, false, 0)
	if err != nil {
		return nil, err
	}
	c := &DHCPConf{}
	for _, s := range stmts {
		w := s.words
		switch w[0].text {
		case "subnet":
			sub, err := parseSubnet(s)
			if err != nil {
				return nil, err
			}
			c.Subnets = append(c.Subnets, sub)
		case "host":
			h, err := parseHost(s)
			if err != nil {
				return nil, err
			}
			c.Hosts = append(c.Hosts, h)
		}
	}
	return c, nil
}

func parseSubnet(s dhcpStatement) (DHCPSubnet, error) {
	w := s.words
	if len(w) != 4 || w[2].text != "netmask" || !s.hasBlock {
		return DHCPSubnet{}, fmt.Errorf("line %d: want `subnet A.B.C.D netmask M.M.M.M { ... }`, got %q", w[0].line, joinWords(w))
	}
	p, err := subnetOf(w[1].text, w[3].text)
	if err != nil {
		return DHCPSubnet{}, fmt.Errorf("line %d: %v", w[0].line, err)
	}
	sub := DHCPSubnet{Prefix: p, Segment: w[0].segment}
	for _, st := range s.block {
		sw := st.words
		switch {
		case sw[0].text == "range":
			args := sw[1:]
			if len(args) > 0 && args[0].text == "dynamic-bootp" {
				args = args[1:]
			}
			if len(args) < 1 || len(args) > 2 {
				return DHCPSubnet{}, fmt.Errorf("line %d: want `range LOW [HIGH];`, got %q", sw[0].line, joinWords(sw))
			}
			low, err := netip.ParseAddr(args[0].text)
			if err != nil {
				return DHCPSubnet{}, fmt.Errorf("line %d: range: %q is not an address", sw[0].line, args[0].text)
			}
			high := low
			if len(args) == 2 {
				if high, err = netip.ParseAddr(args[1].text); err != nil {
					return DHCPSubnet{}, fmt.Errorf("line %d: range: %q is not an address", sw[0].line, args[1].text)
				}
			}
			r, err := NewRange(low, high)
			if err != nil {
				return DHCPSubnet{}, fmt.Errorf("line %d: %v", sw[0].line, err)
			}
			sub.Ranges = append(sub.Ranges, r)
		case len(sw) >= 3 && sw[0].text == "option" && sw[1].text == "routers":
			for _, a := range strings.Split(joinWords(sw[2:]), ",") {
				addr, err := netip.ParseAddr(strings.TrimSpace(a))
				if err != nil {
					return DHCPSubnet{}, fmt.Errorf("line %d: option routers: %q is not an address", sw[0].line, strings.TrimSpace(a))
				}
				sub.Routers = append(sub.Routers, addr)
			}
		}
	}
	return sub, nil
}

func parseHost(s dhcpStatement) (DHCPHost, error) {
	w := s.words
	if len(w) != 2 || !s.hasBlock {
		return DHCPHost{}, fmt.Errorf("line %d: want `host NAME { ... }`, got %q", w[0].line, joinWords(w))
	}
	h := DHCPHost{Name: w[1].text, Segment: w[0].segment}
	for _, st := range s.block {
		sw := st.words
		switch {
		case len(sw) == 3 && sw[0].text == "hardware" && sw[1].text == "ethernet":
			h.Hardware = sw[2].text
		case sw[0].text == "fixed-address":
			if len(sw) != 2 {
				return DHCPHost{}, fmt.Errorf("line %d: want `fixed-address A.B.C.D;`", sw[0].line)
			}
			a, err := netip.ParseAddr(sw[1].text)
			if err != nil {
				return DHCPHost{}, fmt.Errorf("line %d: fixed-address %q is not an address", sw[0].line, sw[1].text)
			}
			h.FixedAddress = a
		}
	}
	return h, nil
}

// SubnetFor returns the declaration for vmnet number n: the one after the
// "# Virtual ethernet segment n" comment (Windows), else the one holding
// host vmnetN's address, else, in a per-vmnet file (Linux, Fusion), the
// only one.
func (c *DHCPConf) SubnetFor(n int) (*DHCPSubnet, bool) {
	for i := range c.Subnets {
		if c.Subnets[i].Segment == n {
			return &c.Subnets[i], true
		}
	}
	if h, ok := c.HostAdapter(n); ok {
		for i := range c.Subnets {
			if c.Subnets[i].Prefix.Contains(h.FixedAddress) {
				return &c.Subnets[i], true
			}
		}
	}
	if len(c.Subnets) == 1 && c.Subnets[0].Segment < 0 {
		return &c.Subnets[0], true
	}
	return nil, false
}

// HostAdapter returns the `host vmnetN` declaration (the host's own
// address on the network; VMware writes VMnet8 on Windows, vmnet8 elsewhere).
func (c *DHCPConf) HostAdapter(n int) (DHCPHost, bool) {
	name := "vmnet" + strconv.Itoa(n)
	for _, h := range c.Hosts {
		if strings.EqualFold(h.Name, name) && h.FixedAddress.IsValid() {
			return h, true
		}
	}
	return DHCPHost{}, false
}
