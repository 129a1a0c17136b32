package stack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Health is one component's state as `sim status` shows it.
type Health struct {
	Component string `json:"component"`
	Healthy   bool   `json:"healthy"`
	Detail    string `json:"detail"`
	Log       string `json:"log"`
}

// Status checks every component of the stack in dir.
func Status(ctx context.Context, dir string) (*State, []Health, error) {
	s, err := Load(dir)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var out []Health
	for _, p := range s.Processes {
		h := Health{Component: p.Name, Log: p.Log, Healthy: p.Alive(), Detail: "running, pid " + strconv.Itoa(p.PID)}
		if !h.Healthy {
			h.Detail = "not running: " + lastLine(p.LogTail(3))
		} else if err := s.probe(ctx, p.Name); err != nil {
			h.Healthy, h.Detail = false, "running but unhealthy: "+err.Error()
		}
		out = append(out, h)
	}
	out = append(out, s.clusterHealth()...)
	return s, out, nil
}

// probe runs the component's own readiness check, where it has one.
func (s *State) probe(ctx context.Context, name string) error {
	switch name {
	case "vcenter":
		return tcpOpen(s.VCenter.Port)
	case "csi-controller":
		return probeCSI(ctx, s.CSISocket)
	case "csi-syncer":
		return httpOverUnix(ctx, s.path("fwd", "syncer-metrics.sock"), "/metrics")
	}
	return nil
}

// clusterHealth reports the kwokctl-managed processes from their PID files
// and the API server's readiness.
func (s *State) clusterHealth() []Health {
	base := filepath.Join(s.Dir, "kwok", "clusters", s.ClusterName)
	pidFiles, _ := filepath.Glob(filepath.Join(base, "pids", "*.pid"))
	sort.Strings(pidFiles)
	var out []Health
	for _, f := range pidFiles {
		name := strings.TrimSuffix(filepath.Base(f), ".pid")
		h := Health{Component: name, Log: filepath.Join(base, "logs", name+".log")}
		data, _ := os.ReadFile(f)
		pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
		h.Healthy = pid > 0 && pidAlive(pid)
		h.Detail = fmt.Sprintf("running, pid %d", pid)
		if !h.Healthy {
			h.Detail = "not running"
		} else if name == "kube-apiserver" {
			if err := tcpOpen(s.APIServerPort); err != nil {
				h.Healthy, h.Detail = false, "port closed: "+err.Error()
			}
		}
		out = append(out, h)
	}
	return out
}

// LogFiles lists every component log of the stack, for reports.
func (s *State) LogFiles() []string {
	var files []string
	for _, p := range s.Processes {
		files = append(files, p.Log)
	}
	more, _ := filepath.Glob(filepath.Join(s.Dir, "kwok", "clusters", s.ClusterName, "logs", "*.log"))
	files = append(files, more...)
	files = append(files, filepath.Join(s.Dir, "logs", "kwokctl.log"))
	return files
}
