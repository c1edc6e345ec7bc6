package sqslocal_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/graphfleet/graphfleet/shared/devtools/sqslocal"
	"github.com/graphfleet/graphfleet/shared/devtools/syncbuf"
)

func TestStartAndClose(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var out syncbuf.Buffer
	srv, err := sqslocal.Start(ctx, sqslocal.Options{Output: &out})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })

	if !strings.HasPrefix(srv.Endpoint, "http://127.0.0.1:") {
		t.Errorf("Endpoint = %q, want http://127.0.0.1:PORT", srv.Endpoint)
	}
	if srv.Version != "2.0.2" {
		t.Errorf("Version = %q, want 2.0.2 (package.json pins it)", srv.Version)
	}
	if srv.PID <= 0 {
		t.Errorf("PID = %d", srv.PID)
	}
	client := srv.Client(ctx)
	if _, err := client.ListQueues(ctx, &sqs.ListQueuesInput{}); err != nil {
		t.Fatalf("ListQueues: %v", err)
	}
	if !strings.Contains(out.String(), "sqslocal ready ") {
		t.Errorf("output has no ready line: %q", out.String())
	}

	if err := srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	select {
	case <-srv.Done():
	default:
		t.Fatal("Done not closed after Close")
	}
	callCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := client.ListQueues(callCtx, &sqs.ListQueuesInput{}, func(o *sqs.Options) { o.RetryMaxAttempts = 1 }); err == nil {
		t.Fatal("ListQueues succeeded after Close")
	}
}

func TestStartFixedPortAndLogFile(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	// Find a free port; the window in which another process could take it
	// is tiny on a test machine.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()

	logFile := filepath.Join(t.TempDir(), "sqs.log")
	srv, err := sqslocal.Start(ctx, sqslocal.Options{Port: port, LogFile: logFile})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	if want := "http://127.0.0.1:" + strconv.Itoa(port); srv.Endpoint != want {
		t.Errorf("Endpoint = %q, want %q", srv.Endpoint, want)
	}
	if srv.LogPath != logFile {
		t.Errorf("LogPath = %q, want %q", srv.LogPath, logFile)
	}
	q, err := sqslocal.CreateQueues(ctx, srv.Client(ctx), "fixed")
	if err != nil {
		t.Fatal(err)
	}
	if want := srv.Endpoint + "/" + sqslocal.DefaultAccountID + "/fixed-ingest"; q.Ingest != want {
		t.Errorf("ingest URL = %q, want %q", q.Ingest, want)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	log, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(log, []byte("sqslocal ready ")) {
		t.Errorf("log file has no ready line: %q", log)
	}
}

// fakeRoot builds a module root with a package.json pinning pin and, when
// installed is not empty, a node_modules/local-aws-sqs of that version.
func fakeRoot(t *testing.T, pin, installed string) string {
	t.Helper()
	root := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/fake\n")
	write("package.json", `{"private":true,"dependencies":{"local-aws-sqs":"`+pin+`"}}`)
	write("shared/devtools/sqslocal/server.mjs", "process.exit(3)\n")
	if installed != "" {
		write("node_modules/local-aws-sqs/package.json", `{"name":"local-aws-sqs","version":"`+installed+`"}`)
	}
	return root
}

func TestStartErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opts    func(t *testing.T) sqslocal.Options
		wantErr []string
	}{
		{
			name:    "node_modules missing",
			opts:    func(t *testing.T) sqslocal.Options { return sqslocal.Options{ModuleRoot: fakeRoot(t, "2.0.2", "")} },
			wantErr: []string{"not installed", "npm ci"},
		},
		{
			name: "stale node_modules",
			opts: func(t *testing.T) sqslocal.Options {
				return sqslocal.Options{ModuleRoot: fakeRoot(t, "2.0.2", "1.0.0")}
			},
			wantErr: []string{"pins local-aws-sqs 2.0.2", "has 1.0.0", "npm ci"},
		},
		{
			name: "no node",
			opts: func(t *testing.T) sqslocal.Options {
				return sqslocal.Options{Node: filepath.Join(t.TempDir(), "no-such-node")}
			},
			wantErr: []string{"Node.js is needed"},
		},
		{
			name: "launcher exits",
			opts: func(t *testing.T) sqslocal.Options {
				return sqslocal.Options{ModuleRoot: fakeRoot(t, "2.0.2", "2.0.2"), Output: &syncbuf.Buffer{}}
			},
			wantErr: []string{"exited during start-up", "exit status 3"},
		},
		{
			name:    "bad port",
			opts:    func(*testing.T) sqslocal.Options { return sqslocal.Options{Port: 70000} },
			wantErr: []string{"invalid port"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, err := sqslocal.Start(testContext(t), tt.opts(t))
			if err == nil {
				_ = srv.Close()
				t.Fatal("Start succeeded")
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestFindModuleRoot(t *testing.T) {
	t.Parallel()
	root := fakeRoot(t, "2.0.2", "")
	deep := filepath.Join(root, "a", "b", "c")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := sqslocal.FindModuleRoot(deep)
	if err != nil {
		t.Fatal(err)
	}
	if got != root {
		t.Errorf("FindModuleRoot = %q, want %q", got, root)
	}
	if _, err := sqslocal.FindModuleRoot(filepath.VolumeName(root) + string(filepath.Separator)); err == nil {
		t.Error("FindModuleRoot(/) found a go.mod")
	}
}
