// Command deepflowlocal runs graphfleet's local DeepFlow querier: the SQL API
// (POST /v1/query/) serving application_map rows of the PetSite call graph.
//
//	go run ./shared/devtools/deepflowlocal/cmd/deepflowlocal -listen 127.0.0.1:20416
//
// then, for example,
//
//	curl -XPOST http://127.0.0.1:20416/v1/query/ --data-urlencode db=flow_metrics \
//	  --data-urlencode data_precision=1m --data-urlencode "sql=SELECT auto_service_0, auto_service_id_0,
//	  auto_service_1, auto_service_id_1, server_port, Enum(l7_protocol) AS l7, Sum(\`request\`) AS req
//	  FROM application_map WHERE time >= 1795392000 AND time < 1795392300
//	  GROUP BY auto_service_0, auto_service_id_0, auto_service_1, auto_service_id_1, server_port, l7
//	  ORDER BY req DESC LIMIT 10"
//
// -fail-with answers every query with that OPT_STATUS (and -fail-description),
// as a failing querier would.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/graphfleet/graphfleet/shared/devtools/deepflowlocal"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "deepflowlocal:", err)
		os.Exit(1)
	}
}

func run() error {
	var opts deepflowlocal.Options
	flag.StringVar(&opts.Addr, "listen", "127.0.0.1:20416", "address to listen on (the querier's port is 20416)")
	flag.IntVar(&opts.Scale, "scale", 1, "copies of the PetSite topology (40 services, 100 calls each)")
	flag.Uint64Var(&opts.Seed, "seed", 1, "seed of the traffic metrics")
	flag.IntVar(&opts.RowLimit, "row-limit", deepflowlocal.DefaultRowLimit, "rows a result holds at most, as the querier's \"limit\" setting")
	failWith := flag.String("fail-with", "", "answer every query with this OPT_STATUS, e.g. FAIL, SERVER_ERROR, RESOURCE_NUM_EXCEEDED")
	failDesc := flag.String("fail-description", "injected failure", "DESCRIPTION sent with -fail-with")
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	if *failWith != "" {
		opts.FailWith = &deepflowlocal.Failure{Status: *failWith, Description: *failDesc}
	}
	opts.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	srv, err := deepflowlocal.Start(opts)
	if err != nil {
		return err
	}
	opts.Logger.Info("deepflowlocal serving", "url", srv.URL()+"/v1/query/", "scale", opts.Scale, "row_limit", srv.RowLimit(), "fail_with", *failWith)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return srv.Close()
}
