// Command probe is the read endpoint of the k6 lag probe: it answers whether
// an edge is in the graph, reading Neptune (or the stand-in) itself, so the
// probe measures the whole path: push API, SQS, worker, Neptune.
//
//	go run ./loadtest/probe -neptune ws://127.0.0.1:8182/gremlin
//	GET /v1/edges/{id}   200 {"id": ..., "last_seen": <epoch ms>} or 404
//	GET /healthz         200
//
// Against Neptune with IAM auth: NEPTUNE_ENDPOINT=wss://cluster:8182/gremlin
// NEPTUNE_IAM_AUTH=true AWS_REGION=... (credentials from the default chain),
// run where the cluster is reachable (its VPC). It only reads: one g.E(id)
// lookup by id per GET, with bytecode (no Gremlin text built from input).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	gremlingo "github.com/apache/tinkerpop/gremlin-go/v3/driver"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
)

// emptyPayloadHash is the SHA-256 of an empty body, which a signed GET carries.
const emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		os.Exit(1)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func run() error {
	listen := flag.String("listen", envOr("PROBE_ADDR", "127.0.0.1:8090"), "listen address (PROBE_ADDR)")
	endpoint := flag.String("neptune", envOr("NEPTUNE_ENDPOINT", "ws://127.0.0.1:8182/gremlin"), "Gremlin WebSocket endpoint (NEPTUNE_ENDPOINT)")
	iamDefault, _ := strconv.ParseBool(os.Getenv("NEPTUNE_IAM_AUTH"))
	iam := flag.Bool("iam", iamDefault, "sign the handshake with IAM SigV4 (NEPTUNE_IAM_AUTH)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))

	settings := func(s *gremlingo.DriverRemoteConnectionSettings) {
		s.LogVerbosity = gremlingo.Warning
		s.ConnectionTimeout = 10 * time.Second
	}
	if *iam {
		auth, err := iamAuth(ctx, *endpoint)
		if err != nil {
			return err
		}
		base := settings
		settings = func(s *gremlingo.DriverRemoteConnectionSettings) { base(s); s.AuthInfo = auth }
	}
	// One connection, rebuilt after a failure (a restarted stand-in, a
	// Neptune failover), so a long soak survives them.
	var (
		mu   sync.Mutex
		conn *gremlingo.DriverRemoteConnection
	)
	lastSeen := func(id string) ([]*gremlingo.Result, error) {
		mu.Lock()
		defer mu.Unlock()
		if conn == nil {
			c, err := gremlingo.NewDriverRemoteConnection(*endpoint, settings)
			if err != nil {
				return nil, fmt.Errorf("connect %s: %w", *endpoint, err)
			}
			conn = c
		}
		res, err := gremlingo.Traversal_().WithRemote(conn).E(id).Values("last_seen").ToList()
		if err != nil {
			conn.Close()
			conn = nil
		}
		return res, err
	}
	defer func() {
		mu.Lock()
		if conn != nil {
			conn.Close()
		}
		mu.Unlock()
	}()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /v1/edges/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		res, err := lastSeen(id)
		w.Header().Set("Content-Type", "application/json")
		switch {
		case err != nil:
			w.WriteHeader(http.StatusBadGateway)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		case len(res) == 0:
			w.WriteHeader(http.StatusNotFound)
			_ = json.NewEncoder(w).Encode(map[string]string{"id": id, "error": "not in the graph"})
		default:
			_ = json.NewEncoder(w).Encode(map[string]any{"id": id, "last_seen": res[0].GetInterface()})
		}
	})
	srv := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Info("probe serving", "addr", *listen, "neptune", *endpoint, "iam", *iam)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// iamAuth signs each handshake (service neptune-db) with the default
// credential chain, re-signing at every new connection so rotated
// credentials are used.
func iamAuth(ctx context.Context, endpoint string) (gremlingo.AuthInfoProvider, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, err
	}
	if cfg.Region == "" {
		return nil, errors.New("NEPTUNE_IAM_AUTH needs AWS_REGION")
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, err
	}
	u.Scheme = "https"
	return gremlingo.NewDynamicAuth(func() gremlingo.AuthInfoProvider {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		creds, err := cfg.Credentials.Retrieve(sctx)
		req, _ := http.NewRequest(http.MethodGet, u.String(), nil)
		if err == nil {
			err = v4.NewSigner().SignHTTP(sctx, creds, req, emptyPayloadHash, "neptune-db", cfg.Region, time.Now())
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "probe: cannot sign the Neptune handshake:", err)
			return &gremlingo.AuthInfo{}
		}
		return gremlingo.HeaderAuthInfo(req.Header)
	}), nil
}
