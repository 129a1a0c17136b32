package target

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// LoadConfig reads the target config file at path ("" for env only), fills
// what the file leaves empty from env (os.Getenv when nil) and applies
// defaults. It does not check the result: call Validate (Connect does).
func LoadConfig(path string, env func(string) string) (*Config, error) {
	if env == nil {
		env = os.Getenv
	}
	cfg := &Config{}
	set := map[string]bool{}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("target config: %s", pathError(path, err))
		}
		if set, err = decodeStrict(data, cfg); err != nil {
			return nil, fmt.Errorf("target config: %s: %v", path, err)
		}
		if abs, err := filepath.Abs(path); err == nil {
			path = abs
		}
		cfg.Source = path
		cfg.resolvePaths(filepath.Dir(path))
		// A URL written with user:password@ in the file counts as the file's
		// own username and password; the URL itself keeps no credentials.
		if u, err := parseVCenterURL(cfg.VCenter.URL); err == nil && cfg.VCenter.URL != "" {
			cfg.VCenter.URL = u.url
			fillString(&cfg.VCenter.Username, u.user)
			if cfg.VCenter.PasswordFile == "" {
				fillSecret(&cfg.VCenter.Password, u.password)
			}
		}
	}
	if err := cfg.applyEnv(env, set); err != nil {
		return nil, err
	}
	cfg.applyDefaults()
	return cfg, nil
}

// applyEnv fills empty fields from KUBECONFIG and the govc variables, in the
// precedence govc itself uses: GOVC_USERNAME/GOVC_PASSWORD over GOVC_URL's
// user:password@.
func (c *Config) applyEnv(env func(string) string, set map[string]bool) error {
	if c.Kubeconfig == "" {
		for _, p := range filepath.SplitList(env("KUBECONFIG")) {
			if p != "" {
				c.Kubeconfig = p
				break
			}
		}
	}
	// In a pod, the service account comes before a ~/.kube/config that the
	// image might happen to hold.
	if c.Kubeconfig == "" && env("KUBERNETES_SERVICE_HOST") != "" && env("KUBERNETES_SERVICE_PORT") != "" {
		c.InCluster = true
	}
	if c.Kubeconfig == "" && !c.InCluster {
		home := env("HOME")
		if home == "" {
			home, _ = os.UserHomeDir()
		}
		if home != "" {
			c.Kubeconfig = filepath.Join(home, ".kube", "config")
		}
	}

	v := &c.VCenter
	var fromURL vcenterURL
	if raw := env("GOVC_URL"); raw != "" && v.URL == "" {
		u, err := parseVCenterURL(raw)
		if err != nil {
			return fmt.Errorf("target config: GOVC_URL: %v", err)
		}
		v.URL, fromURL = u.url, u
	}
	fillString(&v.Username, env("GOVC_USERNAME"))
	fillString(&v.Username, fromURL.user)
	if v.PasswordFile == "" {
		fillSecret(&v.Password, Secret(env("GOVC_PASSWORD")))
		fillSecret(&v.Password, fromURL.password)
	}
	if raw := env("GOVC_INSECURE"); raw != "" && !set["vcenter.insecure"] {
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return fmt.Errorf("target config: GOVC_INSECURE: %q is not a boolean (use 1/true or 0/false)", raw)
		}
		v.Insecure = b
	}
	fillString(&v.Datacenter, env("GOVC_DATACENTER"))
	fillString(&v.CAFile, env("GOVC_TLS_CA_CERTS"))
	return nil
}

func (c *Config) applyDefaults() {
	if c.Source == "" {
		fillString(&c.APIVersion, APIVersion)
		fillString(&c.Kind, Kind)
	}
	if c.Name == "" {
		if c.Source != "" {
			c.Name = strings.TrimSuffix(filepath.Base(c.Source), filepath.Ext(c.Source))
		} else {
			c.Name = "existing"
		}
	}
	fillString(&c.CSI.Namespace, DefaultCSINamespace)
}

func fillString(dst *string, v string) {
	if *dst == "" {
		*dst = v
	}
}

func fillSecret(dst *Secret, v Secret) {
	if *dst == "" {
		*dst = v
	}
}

// pathError renders a file error as "PATH: no such file" style text.
func pathError(path string, err error) string {
	switch {
	case os.IsNotExist(err):
		return path + ": no such file"
	case os.IsPermission(err):
		return path + ": permission denied"
	}
	if pe, ok := err.(*os.PathError); ok {
		return path + ": " + pe.Err.Error()
	}
	return err.Error()
}
