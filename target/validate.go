package target

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"k8s.io/client-go/tools/clientcmd"
)

// Validate checks that the config can be used to connect. Its error is one
// line naming each bad field, e.g.
//
//	target config: vcenter.url: "ftp://x" is not an https URL
func (c *Config) Validate() error {
	var probs []string
	kubeconfigBad := false
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
		// Read now: a broken kubeconfig is the first thing to fix, and
		// Connect would only find it after everything else here.
		if err := checkKubeconfig(c.Kubeconfig); err != nil {
			add("kubeconfig", "%s", err)
			kubeconfigBad = true
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
	if err := validateComponents(c.Components); err != nil {
		probs = append(probs, err.Error())
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
	msg := "target config: " + strings.Join(probs, "; ")
	if kubeconfigBad {
		return &connectError{class: ErrKubeconfig, msg: msg}
	}
	return errors.New(msg)
}

// checkKubeconfig reads a kubeconfig as Connect will and checks that its
// current context names a cluster with a server. The file's credentials
// never reach the message.
func checkKubeconfig(path string) error {
	if err := checkFile(path); err != nil {
		return err
	}
	raw, err := clientcmd.LoadFromFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return errors.New(pathError(path, err))
		}
		return fmt.Errorf("%s: not a kubeconfig: %s", path, oneLine(strings.TrimPrefix(err.Error(), "error loading config file \""+path+"\": ")))
	}
	cur := raw.CurrentContext
	kctx, ok := raw.Contexts[cur]
	switch {
	case cur == "":
		return fmt.Errorf("%s: no current-context (set one with kubectl config use-context)", path)
	case !ok:
		return fmt.Errorf("%s: current-context %q is not among its contexts", path, cur)
	}
	cluster, ok := raw.Clusters[kctx.Cluster]
	switch {
	case !ok:
		return fmt.Errorf("%s: cluster %q of context %q is not among its clusters", path, kctx.Cluster, cur)
	case cluster.Server == "":
		return fmt.Errorf("%s: cluster %q has no server", path, kctx.Cluster)
	}
	// The rest of client-go's checks (user, certificate files, server URL),
	// with paths resolved against the file as Connect resolves them.
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: path}, &clientcmd.ConfigOverrides{})
	if _, err := loader.ClientConfig(); err != nil {
		return fmt.Errorf("%s: %s", path, oneLine(err.Error()))
	}
	return nil
}

func (c *Config) validateVCenter(add func(field, format string, args ...any)) {
	v := c.VCenter
	if v.URL == "" {
		add("vcenter.url", "not set (set vcenter.url or GOVC_URL)")
	} else if err := CheckVCenterURL(v.URL); err != nil {
		add("vcenter.url", "%s", err)
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

// CheckVCenterURL checks a vCenter SDK URL as Validate does: https, a
// host, a port in range, no user:password@. Any host will do, loopback or
// not. Its error never echoes credentials.
func CheckVCenterURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "":
		return fmt.Errorf("%q is not a URL", redactURL(raw))
	case u.Scheme != "https":
		return fmt.Errorf("%q is not an https URL", redactURL(raw))
	case u.User != nil:
		return errors.New("must not carry user:password@ here; use vcenter.username and vcenter.passwordFile")
	case u.Hostname() == "":
		return fmt.Errorf("%q has no host", raw)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%q: port %s is not 1-65535", raw, p)
		}
	}
	return nil
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
