package target

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// Validate checks that the config can be used to connect. Its error is one
// line naming each bad field, e.g.
//
//	target config: vcenter.url: "ftp://x" is not an https URL
func (c *Config) Validate() error {
	var probs []string
	add := func(field, format string, args ...any) {
		probs = append(probs, field+": "+fmt.Sprintf(format, args...))
	}

	if c.APIVersion != APIVersion {
		add("apiVersion", "must be %s (got %q)", APIVersion, c.APIVersion)
	}
	if c.Kind != Kind {
		add("kind", "must be %s (got %q)", Kind, c.Kind)
	}
	if c.Name == "" {
		add("name", "must not be empty")
	}

	switch {
	case c.InCluster && c.Kubeconfig == "":
		// rest.InClusterConfig checks the service account at Connect.
	case c.Kubeconfig == "":
		add("kubeconfig", "not set (set kubeconfig or KUBECONFIG)")
	default:
		if err := checkFile(c.Kubeconfig); err != nil {
			add("kubeconfig", "%s", err)
		}
	}

	c.validateVCenter(add)

	if c.CSI.Namespace == "" {
		add("csi.namespace", "must not be empty")
	}
	for i, p := range c.Storage.Policies {
		if strings.TrimSpace(p) == "" {
			add(fmt.Sprintf("storage.policies[%d]", i), "must not be empty")
		}
	}
	c.Capabilities.validate(add)
	if c.CPI.ScaleNodes < 0 {
		add("cpi.scaleNodes", "must be >= 0")
	}
	if f := c.CPI.ConfigForm; f != "" && f != "yaml" && f != "ini" {
		add("cpi.configForm", "%q is not one of \"\", \"yaml\", \"ini\"", f)
	}
	for _, f := range []struct{ field, cidrs string }{
		{"cpi.internalSubnet", c.CPI.InternalSubnet}, {"cpi.externalSubnet", c.CPI.ExternalSubnet},
	} {
		if err := validateCIDRs(f.cidrs); err != nil {
			add(f.field, "%s", err)
		}
	}
	if c.LogDir != "" {
		if fi, err := os.Stat(c.LogDir); err != nil {
			add("logDir", "%s", pathError(c.LogDir, err))
		} else if !fi.IsDir() {
			add("logDir", "%s: not a directory", c.LogDir)
		}
	}

	if len(probs) == 0 {
		return nil
	}
	return errors.New("target config: " + strings.Join(probs, "; "))
}

func (c *Config) validateVCenter(add func(field, format string, args ...any)) {
	v := c.VCenter
	if v.URL == "" {
		add("vcenter.url", "not set (set vcenter.url or GOVC_URL)")
	} else if u, err := url.Parse(v.URL); err != nil || u.Host == "" {
		add("vcenter.url", "%q is not a URL", redactURL(v.URL))
	} else if u.Scheme != "https" {
		add("vcenter.url", "%q is not an https URL", redactURL(v.URL))
	} else if u.User != nil {
		add("vcenter.url", "must not carry user:password@ here; use vcenter.username and vcenter.passwordFile")
	}

	if v.Username == "" {
		add("vcenter.username", "not set (set vcenter.username or GOVC_USERNAME)")
	}

	switch {
	case v.PasswordFile != "" && v.Password != "":
		add("vcenter.password", "set either vcenter.passwordFile or vcenter.password, not both")
	case v.PasswordFile != "":
		if p, err := v.password(); err != nil {
			add("vcenter.passwordFile", "%s", pathError(v.PasswordFile, err))
		} else if p == "" {
			add("vcenter.passwordFile", "%s: file is empty", v.PasswordFile)
		}
	case v.Password == "":
		add("vcenter.password", "not set (set vcenter.passwordFile, vcenter.password or GOVC_PASSWORD)")
	}

	// caFile is ignored with insecure, but a broken one is still a mistake.
	if v.CAFile != "" {
		for _, f := range filepath.SplitList(v.CAFile) {
			if err := checkPEM(f); err != nil {
				add("vcenter.caFile", "%s", err)
			}
		}
	}
}

func checkFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return errors.New(pathError(path, err))
	}
	if fi.IsDir() {
		return fmt.Errorf("%s: is a directory", path)
	}
	return nil
}

func checkPEM(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return errors.New(pathError(path, err))
	}
	if !x509.NewCertPool().AppendCertsFromPEM(b) {
		return fmt.Errorf("%s: no PEM certificate in file", path)
	}
	return nil
}

// validateCIDRs checks a comma-separated CIDR list as the CPI parses it.
func validateCIDRs(list string) error {
	if list == "" {
		return nil
	}
	for _, c := range strings.Split(list, ",") {
		if _, _, err := net.ParseCIDR(c); err != nil {
			return fmt.Errorf("%q is not a CIDR", c)
		}
	}
	return nil
}
