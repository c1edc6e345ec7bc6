//go:build unix

package sqslocal_test

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/graphfleet/graphfleet/shared/devtools/sqslocal"
	"github.com/graphfleet/graphfleet/shared/devtools/syncbuf"
)

func TestCloseReportsEarlyExit(t *testing.T) {
	t.Parallel()
	srv, err := sqslocal.Start(testContext(t), sqslocal.Options{Output: &syncbuf.Buffer{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	if err := syscall.Kill(srv.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-srv.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("Done not closed after the emulator was killed")
	}
	err = srv.Close()
	if err == nil || !strings.Contains(err.Error(), "had exited") {
		t.Fatalf("Close = %v, want an error saying the emulator had exited", err)
	}
}

func TestCloseStopsProcessGroup(t *testing.T) {
	t.Parallel()
	srv, err := sqslocal.Start(testContext(t), sqslocal.Options{Output: &syncbuf.Buffer{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	// The group is gone: signal 0 to it fails with ESRCH.
	if err := syscall.Kill(-srv.PID, 0); err != syscall.ESRCH {
		t.Fatalf("kill(-%d, 0) = %v, want ESRCH", srv.PID, err)
	}
}
