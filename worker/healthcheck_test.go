package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"sync/atomic"
	"testing"
)

// `worker -healthcheck` is the ECS container check: it must fail when the
// worker answers 503 or does not answer at all, or ECS would keep a dead task.
func TestHealthcheckFlag(t *testing.T) {
	t.Parallel()
	var status atomic.Int32
	status.Store(http.StatusOK)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(int(status.Load()))
	}))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	run := func(addr string) error {
		return exec.Command(workerBin, "-healthcheck", "-health-addr", addr).Run()
	}

	t.Run("a live worker passes", func(t *testing.T) {
		if err := run(addr); err != nil {
			t.Fatalf("healthcheck failed against a healthy worker: %v", err)
		}
	})
	t.Run("a stuck worker fails", func(t *testing.T) {
		status.Store(http.StatusServiceUnavailable)
		defer status.Store(http.StatusOK)
		if err := run(addr); err == nil {
			t.Fatal("healthcheck passed against a worker answering 503")
		}
	})
	t.Run("no worker fails", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		free := ln.Addr().String()
		ln.Close()
		if err := run(free); err == nil {
			t.Fatal("healthcheck passed with nothing listening")
		}
	})
}
