// Package demo is a discovery source that needs no AWS account and no
// DeepFlow: it describes the PetSite microservices (AWS's One Observability
// workshop application) as three discoveries would see them: the calls
// between services (as DeepFlow reports them), the AWS resources they use and
// their relationships, and the CloudFormation stacks that own them. Traffic
// metrics change from one snapshot to the next, so a graph being refreshed
// can be watched.
package demo

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

// Scopes of the three demo discoveries, as real sources would name them.
const (
	ScopeCalls     = "deepflow/demo-eks"
	ScopeResources = "aws/123456789012/us-east-1"
	ScopeStacks    = "cloudformation/123456789012/us-east-1"
)

// Source generates the demo topology. Scale > 1 repeats the application in
// namespaces petsite-0, petsite-1, ..., as many copies of one topology in one
// graph would look. The zero value is not usable; use New.
type Source struct {
	scale   int
	account string
	region  string
	rnd     *rand.Rand
}

// New returns a demo source of the given scale (1 or more), seeded so that
// the topology is the same every run and only metrics vary.
func New(scale int, seed uint64) *Source {
	return &Source{scale: max(1, scale), account: "123456789012", region: "us-east-1", rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// core are PetSite's own services and who calls whom.
var core = map[string][]string{
	"trafficgenerator":    {"petsite"},
	"petsite":             {"petsearch", "payforadoption", "petlistadoptions", "petfood", "petadoptionshistory"},
	"payforadoption":      {"petsearch", "petstatusupdater"},
	"petlistadoptions":    {"petsearch", "petadoptionshistory"},
	"petadoptionshistory": {"petsearch"},
	"petfood":             {"petfood-metric"},
	"petsearch":           {},
	"petstatusupdater":    {},
	"petfood-metric":      {},
}

// supporting services fill the namespace out to about 40 services and 100
// calls, the size of the call graph the system this replaces was measured on.
const (
	servicesPerCopy = 40
	callsPerCopy    = 100
)

// Namespace is the Kubernetes namespace of copy i.
func (s *Source) Namespace(i int) string {
	if s.scale == 1 {
		return "petsite"
	}
	return fmt.Sprintf("petsite-%d", i)
}

// Calls is what DeepFlow would report for one window: services and the
// calls between them, with traffic metrics.
func (s *Source) Calls(observed time.Time) *edgebatch.Batch {
	b := &edgebatch.Batch{V: edgebatch.Version, Source: "deepflow", ObservedAt: observed}
	for i := range s.scale {
		ns := s.Namespace(i)
		names := serviceNames()
		for _, n := range names {
			b.Vertices = append(b.Vertices, edgebatch.Vertex{
				ID: edgebatch.ServiceID(ns, n), Label: edgebatch.ServiceLabel,
				Props: map[string]any{"name": n, "namespace": ns},
			})
		}
		for _, c := range callPairs(names) {
			from, to := edgebatch.ServiceID(ns, c[0]), edgebatch.ServiceID(ns, c[1])
			req := 100 + s.rnd.IntN(5000)
			b.Edges = append(b.Edges, edgebatch.Edge{
				ID: edgebatch.EdgeID(edgebatch.CallsLabel, from, to), Label: edgebatch.CallsLabel, From: from, To: to,
				Props: map[string]any{
					"requests":      int64(req),
					"server_errors": int64(s.rnd.IntN(1 + req/200)),
					"client_errors": int64(s.rnd.IntN(1 + req/500)),
					"timeouts":      int64(s.rnd.IntN(3)),
					"rrt_avg_us":    float64(500+s.rnd.IntN(20000)) + 0.5,
					"l7_protocol":   "HTTP",
				},
			})
		}
	}
	return b
}

// serviceNames is the core services plus supporting ones up to servicesPerCopy.
func serviceNames() []string {
	names := []string{"trafficgenerator", "petsite", "payforadoption", "petlistadoptions", "petadoptionshistory",
		"petfood", "petsearch", "petstatusupdater", "petfood-metric"}
	support := []string{"auth", "cart", "catalog", "checkout", "inventory", "notifications", "images", "reviews",
		"recommendations", "shipping", "pricing", "vet-appointments", "grooming", "loyalty", "search-indexer",
		"audit", "email", "sms", "geo", "currency", "feature-flags", "session", "profile", "favorites",
		"adoption-forms", "donations", "shelters", "volunteers", "events", "reporting", "config"}
	for _, s := range support {
		if len(names) == servicesPerCopy {
			break
		}
		names = append(names, s)
	}
	return names
}

// callPairs is the core call graph plus deterministic calls among the
// supporting services (each calls a few later ones, as layers do) up to
// callsPerCopy.
func callPairs(names []string) [][2]string {
	var pairs [][2]string
	seen := map[[2]string]bool{}
	add := func(a, b string) {
		p := [2]string{a, b}
		if a != b && !seen[p] && len(pairs) < callsPerCopy {
			seen[p] = true
			pairs = append(pairs, p)
		}
	}
	for _, from := range names[:len(core)] {
		for _, to := range core[from] {
			add(from, to)
		}
	}
	// The storefront and payment call into the supporting layer.
	for i, n := range names[len(core):] {
		add("petsite", n)
		if i%3 == 0 {
			add("payforadoption", n)
		}
	}
	for step := 1; len(pairs) < callsPerCopy && step < len(names); step++ {
		for i := len(core); i+step < len(names); i++ {
			add(names[i], names[i+step])
		}
	}
	return pairs
}
