package desktop

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// VNet is one virtual network from a `networking` file of VMware
// Workstation for Linux (/etc/vmware/networking) or Fusion
// (/Library/Preferences/VMware Fusion/networking). Both hold lines
//
//	answer VNET_8_HOSTONLY_SUBNET 192.168.99.0
//	answer VNET_8_HOSTONLY_NETMASK 255.255.255.0
//	answer VNET_8_DHCP yes
//	answer VNET_8_NAT yes
//
// which the Virtual Network Editor (Linux) or vmnet-cli --configure
// (Fusion) turn into vmnetN/dhcpd.conf and vmnetN/nat.conf.
type VNet struct {
	Number  int
	Subnet  string // VNET_N_HOSTONLY_SUBNET, as written
	Netmask string // VNET_N_HOSTONLY_NETMASK, as written
	DHCP    bool
	NAT     bool
	// Answers holds every VNET_N_* answer, keyed by what follows VNET_N_.
	Answers map[string]string
}

// Prefix is the network's subnet, when both answers are present and valid.
func (v *VNet) Prefix() (netip.Prefix, error) {
	if v.Subnet == "" || v.Netmask == "" {
		return netip.Prefix{}, fmt.Errorf("vmnet%d has no VNET_%d_HOSTONLY_SUBNET/NETMASK (a bridged network, or not configured)", v.Number, v.Number)
	}
	return subnetOf(v.Subnet, v.Netmask)
}

// Networking is a parsed networking file.
type Networking struct {
	Version string
	VNets   map[int]*VNet
}

var vnetAnswer = regexp.MustCompile(`^VNET_(\d+)_([A-Z0-9_]+)$`)

// ParseNetworking parses a networking file. Lines it does not know
// (add_bridge_mapping, add_nat_portfwd, answer VNL_...) are accepted and
// ignored; a line that is none of VERSION=, answer, add_*/remove_* or a
// comment is an error naming the line.
func ParseNetworking(data []byte) (*Networking, error) {
	n := &Networking{VNets: map[int]*VNet{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		switch {
		case text == "" || strings.HasPrefix(text, "#"):
			continue
		case strings.HasPrefix(text, "VERSION="):
			n.Version = strings.TrimPrefix(text, "VERSION=")
			continue
		case strings.HasPrefix(text, "add_") || strings.HasPrefix(text, "remove_"):
			continue
		}
		fields := strings.Fields(text)
		if fields[0] != "answer" || len(fields) < 2 {
			return nil, fmt.Errorf("line %d: %q is not an `answer KEY value` line", line, text)
		}
		m := vnetAnswer.FindStringSubmatch(fields[1])
		if m == nil {
			continue // VNL_* and other global answers
		}
		num, err := strconv.Atoi(m[1])
		if err != nil || num > 255 {
			return nil, fmt.Errorf("line %d: vmnet number %q out of range", line, m[1])
		}
		value := strings.Join(fields[2:], " ")
		v := n.VNets[num]
		if v == nil {
			v = &VNet{Number: num, Answers: map[string]string{}}
			n.VNets[num] = v
		}
		v.Answers[m[2]] = value
		switch m[2] {
		case "HOSTONLY_SUBNET":
			v.Subnet = value
		case "HOSTONLY_NETMASK":
			v.Netmask = value
		case "DHCP":
			if v.DHCP, err = yesNo(value); err != nil {
				return nil, fmt.Errorf("line %d: VNET_%d_DHCP: %v", line, num, err)
			}
		case "NAT":
			if v.NAT, err = yesNo(value); err != nil {
				return nil, fmt.Errorf("line %d: VNET_%d_NAT: %v", line, num, err)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if n.Version == "" && len(n.VNets) == 0 {
		return nil, fmt.Errorf("no VERSION= line and no VNET_N answers: not a VMware networking file")
	}
	return n, nil
}

func yesNo(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "yes":
		return true, nil
	case "no", "":
		return false, nil
	}
	return false, fmt.Errorf("%q is not yes or no", s)
}
