package sqslocal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

const (
	// PackageName is the npm package this package runs.
	PackageName = "local-aws-sqs"

	// DefaultRegion and DefaultAccountID are what Start uses when Options
	// leaves them empty; they only appear in queue ARNs and URLs.
	DefaultRegion    = "us-east-1"
	DefaultAccountID = "123456789012"

	defaultHost         = "127.0.0.1"
	defaultStartTimeout = 30 * time.Second
	stopGrace           = 5 * time.Second
	readyPrefix         = "sqslocal ready "
	launcherPath        = "shared/devtools/sqslocal/server.mjs"
)

// Options configures Start. The zero value is ready to use.
type Options struct {
	// Host is the address the emulator binds and the host of its endpoint and
	// queue URLs. Default 127.0.0.1.
	Host string
	// Port is the TCP port; 0 picks a free one (the emulator binds port 0 and
	// reports the port it got, so there is no race for the port).
	Port int
	// Region and AccountID appear in queue ARNs and URLs.
	// Defaults: DefaultRegion, DefaultAccountID.
	Region    string
	AccountID string

	// Output receives the child's stdout and stderr, line by line. When nil,
	// they go to LogFile.
	Output io.Writer
	// LogFile is used when Output is nil: the file is created (truncated) and
	// kept after Close. When both are empty, a new file in os.TempDir() is
	// used. Server.LogPath names the file.
	LogFile string

	// Node is the node executable. Default: $SQSLOCAL_NODE, else "node" on PATH.
	Node string
	// ModuleRoot is the directory holding go.mod, package.json and
	// node_modules. Default: found by walking up from the working directory.
	ModuleRoot string
	// StartTimeout bounds start-up, on top of ctx. Default 30 s.
	StartTimeout time.Duration
}

// Server is a running local-aws-sqs child process.
type Server struct {
	// Endpoint is the base URL for SDK clients, e.g. http://127.0.0.1:41234.
	Endpoint  string
	Region    string
	AccountID string
	// Version is the local-aws-sqs version that is running.
	Version string
	// PID is the child's process id (and process group id on Unix).
	PID int
	// LogPath is the file holding the child's output, when Options.Output was nil.
	LogPath string

	cmd       *exec.Cmd
	stdin     io.WriteCloser
	logFile   *os.File
	output    *outputSink
	exited    chan struct{}
	waitErr   error
	closeOnce sync.Once
	closeErr  error
}

// Start runs local-aws-sqs with node as a child process in its own process
// group and returns once the emulator answers a real SDK call (ListQueues).
// ctx bounds start-up only: the emulator runs until Close.
func Start(ctx context.Context, opts Options) (*Server, error) {
	o := opts
	if o.Host == "" {
		o.Host = defaultHost
	}
	if o.Region == "" {
		o.Region = DefaultRegion
	}
	if o.AccountID == "" {
		o.AccountID = DefaultAccountID
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = defaultStartTimeout
	}
	if o.Port < 0 || o.Port > 65535 {
		return nil, fmt.Errorf("sqslocal: invalid port %d", o.Port)
	}

	root := o.ModuleRoot
	if root == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, fmt.Errorf("sqslocal: %w", err)
		}
		root, err = FindModuleRoot(wd)
		if err != nil {
			return nil, err
		}
	}
	version, err := checkInstall(root)
	if err != nil {
		return nil, err
	}
	node, err := findNode(o.Node)
	if err != nil {
		return nil, err
	}

	s := &Server{
		Region:    o.Region,
		AccountID: o.AccountID,
		Version:   version,
		exited:    make(chan struct{}),
	}
	out := o.Output
	if out == nil {
		var f *os.File
		if o.LogFile != "" {
			f, err = os.Create(o.LogFile)
		} else {
			f, err = os.CreateTemp("", "sqslocal-*.log")
		}
		if err != nil {
			return nil, fmt.Errorf("sqslocal: log file: %w", err)
		}
		s.logFile, s.LogPath, out = f, f.Name(), f
	}
	s.output = &outputSink{w: out}
	ready := make(chan string, 1)

	cmd := exec.Command(node, filepath.Join(root, filepath.FromSlash(launcherPath)),
		"--port", strconv.Itoa(o.Port),
		"--host", o.Host,
		"--region", o.Region,
		"--account-id", o.AccountID,
		"--watch-stdin",
	)
	cmd.Dir = root
	stdout := &lineWriter{sink: s.output, ready: ready}
	stderr := &lineWriter{sink: s.output}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = stopGrace
	setProcessGroup(cmd)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		s.closeLog()
		return nil, fmt.Errorf("sqslocal: %w", err)
	}
	if err := cmd.Start(); err != nil {
		s.closeLog()
		return nil, fmt.Errorf("sqslocal: starting %s: %w", node, err)
	}
	s.cmd, s.stdin, s.PID = cmd, stdin, cmd.Process.Pid
	go func() {
		s.waitErr = cmd.Wait() // returns after the output has been copied
		stdout.flush()
		stderr.flush()
		close(s.exited)
	}()

	startCtx, cancel := context.WithTimeout(ctx, o.StartTimeout)
	defer cancel()
	if err := s.awaitReady(startCtx, ready); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// awaitReady waits for the launcher's ready line, then polls ListQueues until
// the emulator answers.
func (s *Server) awaitReady(ctx context.Context, ready <-chan string) error {
	select {
	case line := <-ready:
		var info struct {
			Endpoint string `json:"endpoint"`
			Version  string `json:"version"`
		}
		if err := json.Unmarshal([]byte(line), &info); err != nil || info.Endpoint == "" {
			return fmt.Errorf("sqslocal: bad ready line %q", line)
		}
		s.Endpoint = info.Endpoint
	case <-s.exited:
		return fmt.Errorf("sqslocal: emulator exited during start-up (%v); output:\n%s", s.waitErr, s.output.tail())
	case <-ctx.Done():
		return fmt.Errorf("sqslocal: emulator not ready: %w; output:\n%s", ctx.Err(), s.output.tail())
	}

	client := s.Client(ctx, func(o *sqs.Options) { o.RetryMaxAttempts = 1 })
	delay := 10 * time.Millisecond
	for {
		callCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := client.ListQueues(callCtx, &sqs.ListQueuesInput{})
		cancel()
		if err == nil {
			return nil
		}
		timer := time.NewTimer(delay)
		select {
		case <-timer.C:
		case <-s.exited:
			timer.Stop()
			return fmt.Errorf("sqslocal: emulator exited during start-up (%v); output:\n%s", s.waitErr, s.output.tail())
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("sqslocal: emulator at %s does not answer: %w (last error: %v); output:\n%s",
				s.Endpoint, ctx.Err(), err, s.output.tail())
		}
		delay = min(2*delay, 250*time.Millisecond)
	}
}

// Client returns an SQS client for the emulator: static dummy credentials,
// the server's region, BaseEndpoint set to Endpoint. Nothing is read from the
// environment or shared config files, so AWS_PROFILE and friends cannot send
// it elsewhere. optFns adjust the options (retries, HTTP client, ...).
func (s *Server) Client(_ context.Context, optFns ...func(*sqs.Options)) *sqs.Client {
	return sqs.New(sqs.Options{
		Region:       s.Region,
		Credentials:  credentials.NewStaticCredentialsProvider("sqslocal", "sqslocal", ""),
		BaseEndpoint: aws.String(s.Endpoint),
	}, optFns...)
}

// Done is closed when the emulator process has exited, for whatever reason.
func (s *Server) Done() <-chan struct{} { return s.exited }

// Close stops the emulator: SIGTERM to its process group, SIGKILL after a
// grace period, then waits for it. It is safe to call more than once. It
// reports an error if the emulator had died on its own before Close.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		select {
		case <-s.exited:
			if s.waitErr != nil {
				s.closeErr = fmt.Errorf("sqslocal: emulator had exited: %v; output:\n%s", s.waitErr, s.output.tail())
			} else {
				s.closeErr = errors.New("sqslocal: emulator had exited on its own")
			}
		default:
			_ = signalGroup(s.cmd, false)
			_ = s.stdin.Close()
			select {
			case <-s.exited:
			case <-time.After(stopGrace):
				_ = signalGroup(s.cmd, true)
				<-s.exited
			}
		}
		s.closeLog()
	})
	return s.closeErr
}

func (s *Server) closeLog() {
	if s.logFile != nil {
		_ = s.logFile.Close()
	}
}

// FindModuleRoot walks up from dir to the first directory holding go.mod.
func FindModuleRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("sqslocal: %w", err)
	}
	for d := dir; ; {
		if fi, err := os.Stat(filepath.Join(d, "go.mod")); err == nil && !fi.IsDir() {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("sqslocal: no go.mod in %s or any parent directory", dir)
		}
		d = parent
	}
}

// checkInstall verifies that node_modules holds local-aws-sqs at the version
// package.json pins and returns that version.
func checkInstall(root string) (string, error) {
	hint := fmt.Sprintf("run `npm ci` in %s", root)
	installed := filepath.Join(root, "node_modules", PackageName, "package.json")
	raw, err := os.ReadFile(installed)
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("sqslocal: %s is not installed (no %s): %s", PackageName, installed, hint)
	}
	if err != nil {
		return "", fmt.Errorf("sqslocal: %w", err)
	}
	var pkg struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(raw, &pkg); err != nil {
		return "", fmt.Errorf("sqslocal: %s: %w", installed, err)
	}
	if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(launcherPath))); err != nil {
		return "", fmt.Errorf("sqslocal: launcher missing: %w", err)
	}
	manifest, err := os.ReadFile(filepath.Join(root, "package.json"))
	if err != nil {
		return "", fmt.Errorf("sqslocal: %w", err)
	}
	var top struct {
		Dependencies    map[string]string `json:"dependencies"`
		DevDependencies map[string]string `json:"devDependencies"`
	}
	if err := json.Unmarshal(manifest, &top); err != nil {
		return "", fmt.Errorf("sqslocal: package.json: %w", err)
	}
	want := top.Dependencies[PackageName]
	if want == "" {
		want = top.DevDependencies[PackageName]
	}
	if want != "" && want != pkg.Version {
		return "", fmt.Errorf("sqslocal: package.json pins %s %s but node_modules has %s: %s",
			PackageName, want, pkg.Version, hint)
	}
	return pkg.Version, nil
}

func findNode(node string) (string, error) {
	if node == "" {
		node = os.Getenv("SQSLOCAL_NODE")
	}
	if node == "" {
		node = "node"
	}
	p, err := exec.LookPath(node)
	if err != nil {
		return "", fmt.Errorf("sqslocal: Node.js is needed to run %s: %w", PackageName, err)
	}
	return p, nil
}

// outputSink serialises the child's output lines to one writer and keeps the
// last few KiB for error messages.
type outputSink struct {
	mu   sync.Mutex
	w    io.Writer
	last []byte
}

const tailSize = 8 << 10

func (o *outputSink) writeLine(line []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	_, _ = o.w.Write(line)
	o.last = append(o.last, line...)
	if len(o.last) > tailSize {
		o.last = append([]byte(nil), o.last[len(o.last)-tailSize:]...)
	}
}

func (o *outputSink) tail() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.last) == 0 {
		return "(no output)"
	}
	return string(o.last)
}

// lineWriter splits a stream into lines for the sink and, for stdout, hands
// the launcher's ready line to ready.
type lineWriter struct {
	sink    *outputSink
	ready   chan<- string
	partial []byte
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		line := l.partial[:i+1]
		if l.ready != nil {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(string(line)), readyPrefix); ok {
				select {
				case l.ready <- rest:
				default:
				}
				l.ready = nil
			}
		}
		l.sink.writeLine(line)
		l.partial = l.partial[i+1:]
	}
	if len(l.partial) > 64<<10 { // a runaway line: pass it on unsplit
		l.flush()
	}
	return len(p), nil
}

// flush passes on an unterminated last line.
func (l *lineWriter) flush() {
	if len(l.partial) > 0 {
		l.sink.writeLine(append(l.partial, '\n'))
		l.partial = nil
	}
}
