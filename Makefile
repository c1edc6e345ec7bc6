# graphfleet's everyday commands. The README starts with the first two.
.PHONY: up test deps bench bench-standin vet template test-deploy loadtest-drain loadtest-drain-1m k6-smoke k6-ramp k6-stress k6-soak vegeta

# Node tooling (the SQS emulator, pinned in package-lock.json).
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

deps: node_modules/.package-lock.json
	go mod download

# Run graphfleet locally: SQS emulator, Neptune stand-in, a worker and the
# PetSite demo producer; prints the graph filling until Ctrl-C.
up: deps
	go run ./shared/devtools/devstack/cmd/devstack

# Every test, with the race detector; then the connection-loss tests (the
# writer's, and the worker's end to end: a Neptune outage of over two minutes
# with workers killed and stopped, a failover mid-drain), which only build
# without it (gremlin-go v3.7.4 races on a failed connection's state). Tests start the servers they need (the SQS emulator as a child
# process, the stand-in in-process). Last, the CDK app's tests (deploy/ecs,
# its own module; offline, with Node).
test: deps
	go test -race -count=1 -timeout 20m ./...
	go test -count=1 -timeout 20m -run ConnectionLoss ./worker/ ./worker/neptune/
	$(MAKE) test-deploy

vet:
	gofmt -l . | (! grep .)
	go vet ./...

# Benchmarks: the ingestion path end to end (see README for the figures).
bench: deps
	go test -run '^$$' -bench . -benchtime 1x -timeout 30m ./worker/

# The stand-in alone: requests/s and records/s it sustains.
bench-standin:
	go test -run '^$$' -bench . ./shared/devtools/neptunelocal/

# The CDK app in deploy/ecs (its own Go module; synthesises offline with
# Node): regenerate the committed template, and run its tests (assertions,
# IAM against the SDK calls in the code, the template up to date).
template:
	cd deploy/ecs && JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 go run .

test-deploy:
	cd deploy/ecs && CDK_DISABLE_CLI_TELEMETRY=true JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 go test -count=1 ./...

# Load tests (loadtest/README.md). The drain benchmark: graphfleet against
# the seed-style writers on the same workload, through real worker
# processes, the SQS emulator and the stand-in.
loadtest-drain: deps
	go run ./loadtest/drain -workload petsite -live
	go run ./loadtest/drain -edges 100000

loadtest-drain-1m: deps
	go run ./loadtest/drain -edges 1000000

# k6 and vegeta against a running push API (BASE_URL, INGEST_TOKEN,
# PROBE_URL); both run through `go tool` from loadtest/tools, their own module.
k6-smoke k6-ramp k6-stress k6-soak:
	cd loadtest/tools && go tool k6 run ../k6/$(@:k6-%=%).js

vegeta:
	loadtest/vegeta/attack.sh
