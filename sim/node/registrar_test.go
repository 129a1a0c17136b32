package node

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	registerapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

// The kubelet's side of registration: GetInfo, then NotifyRegistrationStatus.
func TestRegistrarAnswersTheKubelet(t *testing.T) {
	dir := t.TempDir()
	sock := RegistrationSocket(dir, "csi.example.com")
	RetryPause = 50 * time.Millisecond
	r := &Registrar{Driver: "csi.example.com", Endpoint: "/x/csi.sock"}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeRegistrar(ctx, r, sock) }()

	var conn *grpc.ClientConn
	var info *registerapi.PluginInfo
	deadline := time.Now().Add(5 * time.Second)
	for {
		var err error
		conn, err = grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err == nil {
			info, err = registerapi.NewRegistrationClient(conn).GetInfo(ctx, &registerapi.InfoRequest{})
		}
		if err == nil {
			break
		}
		if conn != nil {
			conn.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("GetInfo: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	defer conn.Close()
	if info.Type != registerapi.CSIPlugin || info.Name != "csi.example.com" || info.Endpoint != "/x/csi.sock" {
		t.Fatalf("GetInfo = %+v", info)
	}
	c := registerapi.NewRegistrationClient(conn)
	if _, err := c.NotifyRegistrationStatus(ctx, &registerapi.RegistrationStatus{PluginRegistered: false, Error: "boom"}); err != nil {
		t.Fatal(err)
	}
	// A failed registration makes the registrar offer a new socket, which
	// answers GetInfo again.
	deadline = time.Now().Add(5 * time.Second)
	for {
		c2, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err == nil {
			_, err = registerapi.NewRegistrationClient(c2).GetInfo(ctx, &registerapi.InfoRequest{})
			c2.Close()
		}
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no socket again after a failed registration: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if m, _ := filepath.Glob(sock); len(m) != 0 {
		t.Fatal("socket left behind")
	}
}
