package sqslocal

import (
	"context"
	"sync"
	"testing"
)

// StartT starts an emulator for a test (see Start) and stops it in
// t.Cleanup. The emulator's output goes to t.Log, so it shows when the test
// fails or runs with -v. It never skips: a missing node or node_modules fails
// the test, with the fix in the message.
func StartT(t testing.TB) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), defaultStartTimeout)
	defer cancel()
	s, err := Start(ctx, Options{Output: &tbWriter{t: t}})
	if err != nil {
		t.Fatalf("sqslocal.StartT: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("sqslocal: close: %v", err)
		}
	})
	return s
}

// tbWriter forwards whole lines to t.Log. Close waits for the child and its
// output before returning, and runs in t.Cleanup, so no line arrives after the
// test has finished.
type tbWriter struct {
	mu sync.Mutex
	t  testing.TB
}

func (w *tbWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.t.Logf("sqslocal: %s", trimNewline(p))
	return len(p), nil
}

func trimNewline(p []byte) string {
	if n := len(p); n > 0 && p[n-1] == '\n' {
		p = p[:n-1]
	}
	return string(p)
}
