package graphbinary

// Compatibility with the real driver: gremlin-go v3.7.4 talks to a fake
// /gremlin endpoint built on this codec. What it sends must decode to exactly
// the traversal that was written, and what the codec writes must come out of
// gremlin-go's ToList/Next as the values the server meant.

import (
	"flag"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gremlingo "github.com/apache/tinkerpop/gremlin-go/v3/driver"
	"github.com/gorilla/websocket"
)

var updateSeeds = flag.Bool("update-seeds", false,
	"write the frames gremlin-go sends in TestGremlinGoRequestsDecode to testdata/fuzz/FuzzReadRequest")

// received is one request frame as it arrived, and what ReadRequest made of it.
type received struct {
	raw []byte
	req *Request
}

// answerFunc scripts the server: the responses to send for one request.
type answerFunc func(req *Request) []*Response

// serveGremlin starts a WebSocket /gremlin endpoint that decodes each frame
// with ReadRequest, reports it on the returned channel, and writes the
// responses answer gives with WriteResponse. It returns a gremlin-go
// traversal source connected to it. Answers echo the decoded request id, so
// every answered request also proves the id decoded as gremlin-go sent it
// (gremlin-go fails the connection on an id it does not know).
func serveGremlin(t *testing.T, answer answerFunc) (*gremlingo.GraphTraversalSource, <-chan received) {
	t.Helper()
	return serve(t, answer, serveOptions{})
}

type serveOptions struct {
	// leaveClientOpen skips closing a connection gremlin-go has already
	// failed: closing it races, inside gremlin-go v3.7.4, with its read loop
	// marking it failed (connection.state), which -race reports.
	leaveClientOpen bool
	// concurrent answers each request on its own goroutine, so the read
	// loop keeps running (and answering pings) while an answer is slow.
	concurrent bool
	// keepAlive is gremlin-go's ping interval; its read deadline is twice it.
	keepAlive time.Duration
}

func serve(t *testing.T, answer answerFunc, opts serveOptions) (*gremlingo.GraphTraversalSource, <-chan received) {
	t.Helper()
	requests := make(chan received, 16)
	var handlers sync.WaitGroup
	upgrader := websocket.Upgrader{}
	mux := http.NewServeMux()
	mux.HandleFunc("/gremlin", func(w http.ResponseWriter, r *http.Request) {
		handlers.Add(1)
		defer handlers.Done()
		c, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			t.Errorf("upgrade: %v", err)
			return
		}
		defer c.Close()
		var writes sync.Mutex // gorilla allows one writer at a time
		respond := func(req *Request) {
			writes.Lock()
			defer writes.Unlock()
			for _, resp := range answer(req) {
				b, err := WriteResponse(resp)
				if err != nil {
					t.Errorf("WriteResponse: %v", err)
					return
				}
				if err := c.WriteMessage(websocket.BinaryMessage, b); err != nil {
					return
				}
			}
		}
		var answering sync.WaitGroup
		defer answering.Wait()
		for {
			// gorilla answers the client's pings from inside ReadMessage.
			kind, msg, err := c.ReadMessage()
			if err != nil {
				return // the client closed the connection
			}
			if kind != websocket.BinaryMessage {
				t.Errorf("got a WebSocket message of kind %d, want binary", kind)
				return
			}
			req, err := ReadRequest(msg)
			if err != nil {
				t.Errorf("ReadRequest: %v\nframe: %q", err, msg)
				return
			}
			requests <- received{raw: msg, req: req}
			if opts.concurrent {
				answering.Go(func() { respond(req) })
			} else {
				respond(req)
			}
		}
	})
	srv := httptest.NewServer(mux)
	conn, err := gremlingo.NewDriverRemoteConnection("ws://"+srv.Listener.Addr().String()+"/gremlin",
		func(s *gremlingo.DriverRemoteConnectionSettings) {
			s.LogVerbosity = gremlingo.Off
			if opts.keepAlive > 0 {
				s.KeepAliveInterval = opts.keepAlive
			}
		})
	if err != nil {
		srv.Close()
		t.Fatalf("gremlin-go could not connect: %v", err)
	}
	t.Cleanup(func() {
		if !opts.leaveClientOpen {
			conn.Close()
		}
		handlers.Wait() // the handler returns once the client has hung up
		srv.Close()
	})
	return gremlingo.Traversal_().WithRemote(conn), requests
}

// reply answers with one final 200 carrying data.
func reply(data any) answerFunc {
	return func(req *Request) []*Response {
		return []*Response{{RequestID: &req.ID, StatusCode: StatusSuccess, Data: data}}
	}
}

// results wraps each value in a Traverser of bulk 1, as a traversal result is.
func results(values ...any) []any {
	out := make([]any, len(values))
	for i, v := range values {
		out[i] = Traverser{Bulk: 1, Value: v}
	}
	return out
}

func TestGremlinGoRequestsDecode(t *testing.T) {
	g := gremlingo.T__ // anonymous traversals, gremlin-go's __
	when := time.Date(2026, 11, 21, 10, 5, 0, 123_000_000, time.UTC)
	single := func(v any) *Bytecode {
		return &Bytecode{Sources: []Instruction{{Operator: "CardinalityValueTraversal",
			Args: []any{Enum{EnumCardinality, "single"}, v}}}}
	}
	const decoration = "org.apache.tinkerpop.gremlin.process.traversal.strategy.decoration."
	const verification = "org.apache.tinkerpop.gremlin.process.traversal.strategy.verification."

	cases := []struct {
		name     string
		run      func(g *gremlingo.GraphTraversalSource) error
		want     *Bytecode
		wantArgs map[string]any // other request args to check, besides gremlin and aliases
	}{
		{
			name: "an upsert by id with a single-cardinality property decodes exactly",
			run: func(s *gremlingo.GraphTraversalSource) error {
				_, err := s.MergeV(map[any]any{gremlingo.T.Id: "v1"}).
					Option(gremlingo.Merge.OnCreate, map[any]any{
						gremlingo.T.Label: "Service",
						"name":            gremlingo.CardinalityValue.Single("x"),
					}).Id().ToList()
				return err
			},
			want: &Bytecode{Steps: []Instruction{
				{Operator: "mergeV", Args: []any{map[any]any{Enum{EnumT, "id"}: "v1"}}},
				{Operator: "option", Args: []any{Enum{EnumMerge, "onCreate"}, map[any]any{
					Enum{EnumT, "label"}: "Service",
					"name":               single("x"),
				}}},
				{Operator: "id"},
			}},
		},
		{
			name: "a has step with P.within and a count decodes exactly",
			run: func(s *gremlingo.GraphTraversalSource) error {
				_, err := s.V("a").Has("k", gremlingo.P.Within("x", "y")).Count().ToList()
				return err
			},
			want: &Bytecode{Steps: []Instruction{
				{Operator: "V", Args: []any{"a"}},
				{Operator: "has", Args: []any{"k", P{Operator: "within", Values: []any{"x", "y"}}}},
				{Operator: "count"},
			}},
		},
		{
			name: "anonymous traversals arrive as nested bytecode",
			run: func(s *gremlingo.GraphTraversalSource) error {
				_, err := s.V("a").Coalesce(g.Values("name"), g.Constant("none")).ToList()
				return err
			},
			want: &Bytecode{Steps: []Instruction{
				{Operator: "V", Args: []any{"a"}},
				{Operator: "coalesce", Args: []any{
					&Bytecode{Steps: []Instruction{{Operator: "values", Args: []any{"name"}}}},
					&Bytecode{Steps: []Instruction{{Operator: "constant", Args: []any{"none"}}}},
				}},
			}},
		},
		{
			name: "an edge upsert with from and to in onCreate decodes exactly",
			run: func(s *gremlingo.GraphTraversalSource) error {
				_, err := s.MergeE(map[any]any{gremlingo.T.Id: "calls:a>b"}).
					Option(gremlingo.Merge.OnCreate, map[any]any{
						gremlingo.T.Label:        "calls",
						gremlingo.Direction.From: "a",
						gremlingo.Direction.To:   "b",
					}).
					Property(gremlingo.Cardinality.Single, "requests", int64(1200)).Id().ToList()
				return err
			},
			want: &Bytecode{Steps: []Instruction{
				{Operator: "mergeE", Args: []any{map[any]any{Enum{EnumT, "id"}: "calls:a>b"}}},
				{Operator: "option", Args: []any{Enum{EnumMerge, "onCreate"}, map[any]any{
					Enum{EnumT, "label"}:       "calls",
					Enum{EnumDirection, "OUT"}: "a",
					Enum{EnumDirection, "IN"}:  "b",
				}}},
				{Operator: "property", Args: []any{Enum{EnumCardinality, "single"}, "requests", int64(1200)}},
				{Operator: "id"},
			}},
		},
		{
			name: "every enum type arrives as its own Enum",
			run: func(s *gremlingo.GraphTraversalSource) error {
				_, err := s.Inject(gremlingo.T.Id, gremlingo.Direction.Out, gremlingo.Merge.OnCreate,
					gremlingo.Cardinality.Single, gremlingo.Order.Desc, gremlingo.Scope.Local,
					gremlingo.Column.Keys, gremlingo.Pop.Last, gremlingo.Pick.None,
					gremlingo.Barrier.NormSack, gremlingo.Operator.Sum, gremlingo.DT.Day).ToList()
				return err
			},
			want: &Bytecode{Steps: []Instruction{{Operator: "inject", Args: []any{
				Enum{EnumT, "id"}, Enum{EnumDirection, "OUT"}, Enum{EnumMerge, "onCreate"},
				Enum{EnumCardinality, "single"}, Enum{EnumOrder, "desc"}, Enum{EnumScope, "local"},
				Enum{EnumColumn, "keys"}, Enum{EnumPop, "last"}, Enum{EnumPick, "none"},
				Enum{EnumBarrier, "normSack"}, Enum{EnumOperator, "sum"}, Enum{EnumDT, "day"},
			}}}},
		},
		{
			name: "every scalar and collection type arrives as the value model's Go type",
			run: func(s *gremlingo.GraphTraversalSource) error {
				// Inside a list, so inject's int-to-int32 narrowing leaves them be.
				_, err := s.Inject([]any{
					int32(1), int64(2), int16(3), int8(-4), uint8(5), 1.5, float32(2.5), true, "s",
					someUUID, when, 90*time.Second + 5*time.Millisecond, -1500 * time.Millisecond,
					big.NewInt(-129), &gremlingo.BigDecimal{Scale: 2, UnscaledValue: *big.NewInt(12345)},
					&gremlingo.ByteBuffer{Data: []byte{1, 2}}, &gremlingo.GremlinType{Fqcn: "java.lang.String"},
					nil, 7, map[string]int{"a": 1}, gremlingo.NewSimpleSet("p", "q"), []string{"x"},
				}).ToList()
				return err
			},
			want: &Bytecode{Steps: []Instruction{{Operator: "inject", Args: []any{[]any{
				int32(1), int64(2), int16(3), int16(-4), uint8(5), 1.5, float32(2.5), true, "s",
				someUUID, when, 90*time.Second + 5*time.Millisecond, -1500 * time.Millisecond,
				big.NewInt(-129), BigDecimal{Unscaled: big.NewInt(12345), Scale: 2},
				[]byte{1, 2}, Class{Name: "java.lang.String"},
				nil, int64(7), map[any]any{"a": int64(1)}, Set{"p", "q"}, []any{"x"},
			}}}}},
		},
		{
			name: "P.and of two Ps and a TextP decode as nested P values",
			run: func(s *gremlingo.GraphTraversalSource) error {
				_, err := s.V().Has("n", gremlingo.P.Gt(1).And(gremlingo.P.Lt(5))).
					Has("name", gremlingo.TextP.StartingWith("svc")).ToList()
				return err
			},
			want: &Bytecode{Steps: []Instruction{
				{Operator: "V"},
				{Operator: "has", Args: []any{"n", P{Operator: "and", Values: []any{
					P{Operator: "gt", Values: []any{int64(1)}}, P{Operator: "lt", Values: []any{int64(5)}},
				}}}},
				{Operator: "has", Args: []any{"name", P{Operator: "startingWith", Values: []any{"svc"}, Text: true}}},
			}},
		},
		{
			name: "strategies, a lambda and a binding decode, and With copies the option into the args",
			run: func(s *gremlingo.GraphTraversalSource) error {
				_, err := s.With("evaluationTimeout", int64(1000)).WithStrategies(gremlingo.ReadOnlyStrategy()).
					V().Map(&gremlingo.Lambda{Script: "it.get()"}).
					Has("k", (&gremlingo.Bindings{}).Of("b", "v")).ToList()
				return err
			},
			want: &Bytecode{
				Sources: []Instruction{
					{Operator: "withStrategies", Args: []any{Strategy{Class: decoration + "OptionsStrategy",
						Config: map[string]any{"evaluationTimeout": int64(1000)}}}},
					{Operator: "withStrategies", Args: []any{Strategy{Class: verification + "ReadOnlyStrategy",
						Config: map[string]any{}}}},
				},
				Steps: []Instruction{
					{Operator: "V"},
					{Operator: "map", Args: []any{Lambda{Script: "it.get()", Language: "gremlin-groovy", Args: -1}}},
					{Operator: "has", Args: []any{"k", Binding{Key: "b", Value: "v"}}},
				},
			},
			wantArgs: map[string]any{"evaluationTimeout": int64(1000)},
		},
		{
			name: "Iterate appends a none step the engine must support",
			run: func(s *gremlingo.GraphTraversalSource) error {
				return <-s.V("a").Drop().Iterate()
			},
			want: &Bytecode{Steps: []Instruction{
				{Operator: "V", Args: []any{"a"}}, {Operator: "drop"}, {Operator: "none"},
			}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, requests := serveGremlin(t, func(req *Request) []*Response {
				return []*Response{{RequestID: &req.ID, StatusCode: StatusNoContent}}
			})
			if err := tc.run(s); err != nil {
				t.Fatalf("gremlin-go: %v", err)
			}
			got := <-requests
			req := got.req
			if req.Op != "bytecode" || req.Processor != "traversal" {
				t.Errorf("op %q processor %q, want bytecode / traversal", req.Op, req.Processor)
			}
			if aliases := req.Args["aliases"]; !reflect.DeepEqual(aliases, map[any]any{"g": "g"}) {
				t.Errorf("aliases = %#v, want {g: g}", aliases)
			}
			if !reflect.DeepEqual(req.Args["gremlin"], tc.want) {
				t.Errorf("bytecode mismatch:\n got  %s\n want %s", show(req.Args["gremlin"]), show(tc.want))
			}
			for k, v := range tc.wantArgs {
				if !reflect.DeepEqual(req.Args[k], v) {
					t.Errorf("args[%q] = %#v, want %#v", k, req.Args[k], v)
				}
			}
			if *updateSeeds {
				writeSeed(t, "gremlin-go "+tc.name, got.raw)
			}
		})
	}
}

// show prints a value with pointers followed, for readable diffs.
func show(v any) string {
	if b, ok := v.(*Bytecode); ok && b != nil {
		return fmt.Sprintf("&%+v", *b)
	}
	return fmt.Sprintf("%#v", v)
}

// writeSeed stores a frame in the fuzz target's seed corpus, in the file
// format `go test` reads (testdata/fuzz/<Target>/<name>).
func writeSeed(t *testing.T, name string, frame []byte) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", "FuzzReadRequest")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	file := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '_'
	}, strings.ToLower(name))
	body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", frame)
	if err := os.WriteFile(filepath.Join(dir, file), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestGremlinGoReadsWhatWriteResponseSends(t *testing.T) {
	vertexA := Vertex{ID: "a", Label: "Service"}
	vertexB := Vertex{ID: "b", Label: "Lambda_Function"}
	cases := []struct {
		name   string
		answer answerFunc
		check  func(t *testing.T, s *gremlingo.GraphTraversalSource)
		kills  bool // gremlin-go fails the whole connection
	}{
		{
			name:   "a vertex arrives as a *Vertex with its id and label",
			answer: reply(results(vertexA)),
			check: func(t *testing.T, s *gremlingo.GraphTraversalSource) {
				r, err := s.V("a").Next()
				if err != nil {
					t.Fatal(err)
				}
				v, err := r.GetVertex()
				if err != nil {
					t.Fatalf("result %#v is not a vertex: %v", r.Data, err)
				}
				if v.Id != "a" || v.Label != "Service" {
					t.Fatalf("got vertex %v/%v, want a/Service", v.Id, v.Label)
				}
			},
		},
		{
			name:   "an edge arrives with its out- and in-vertex the right way round",
			answer: reply(results(Edge{ID: "calls:a>b", Label: "calls", OutV: vertexA, InV: vertexB})),
			check: func(t *testing.T, s *gremlingo.GraphTraversalSource) {
				r, err := s.E("calls:a>b").Next()
				if err != nil {
					t.Fatal(err)
				}
				e, err := r.GetEdge()
				if err != nil {
					t.Fatalf("result %#v is not an edge: %v", r.Data, err)
				}
				got := [6]any{e.Id, e.Label, e.OutV.Id, e.OutV.Label, e.InV.Id, e.InV.Label}
				want := [6]any{"calls:a>b", "calls", "a", "Service", "b", "Lambda_Function"}
				if got != want {
					t.Fatalf("got edge %v, want %v", got, want)
				}
			},
		},
		{
			name: "an elementMap arrives as a map whose T keys are plain strings",
			answer: reply(results(map[any]any{
				Enum{EnumT, "id"}: "a", Enum{EnumT, "label"}: "Service", "name": "payforadoption",
			})),
			check: func(t *testing.T, s *gremlingo.GraphTraversalSource) {
				r, err := s.V("a").ElementMap().Next()
				if err != nil {
					t.Fatal(err)
				}
				want := map[any]any{"id": "a", "label": "Service", "name": "payforadoption"}
				if !reflect.DeepEqual(r.Data, want) {
					t.Fatalf("got %#v, want %#v", r.Data, want)
				}
			},
		},
		{
			name:   "a valueMap of lists arrives as a map of []interface{}",
			answer: reply(results(map[any]any{"name": []any{"x"}, "requests": []any{int64(1200)}})),
			check: func(t *testing.T, s *gremlingo.GraphTraversalSource) {
				r, err := s.V("a").ValueMap().Next()
				if err != nil {
					t.Fatal(err)
				}
				want := map[any]any{"name": []any{"x"}, "requests": []any{int64(1200)}}
				if !reflect.DeepEqual(r.Data, want) {
					t.Fatalf("got %#v, want %#v", r.Data, want)
				}
			},
		},
		{
			name:   "a count arrives as an int64",
			answer: reply(results(int64(42))),
			check: func(t *testing.T, s *gremlingo.GraphTraversalSource) {
				r, err := s.V().Count().Next()
				if err != nil {
					t.Fatal(err)
				}
				if n, ok := r.Data.(int64); !ok || n != 42 {
					t.Fatalf("got %#v, want int64(42)", r.Data)
				}
			},
		},
		{
			name:   "a traverser's bulk repeats its value",
			answer: reply([]any{Traverser{Bulk: 3, Value: "x"}, Traverser{Bulk: 1, Value: "y"}}),
			check: func(t *testing.T, s *gremlingo.GraphTraversalSource) {
				expectStrings(t, s, "x", "x", "x", "y")
			},
		},
		{
			name: "a result sent as 206 parts and a final 200 arrives whole and in order",
			answer: func(req *Request) []*Response {
				return []*Response{
					{RequestID: &req.ID, StatusCode: StatusPartialContent, Data: results("a", "b")},
					{RequestID: &req.ID, StatusCode: StatusPartialContent, Data: results("c")},
					{RequestID: &req.ID, StatusCode: StatusSuccess, Data: results("d")},
				}
			},
			check: func(t *testing.T, s *gremlingo.GraphTraversalSource) {
				expectStrings(t, s, "a", "b", "c", "d")
			},
		},
		{
			name: "a 204 is an empty result, not an error",
			answer: func(req *Request) []*Response {
				return []*Response{{RequestID: &req.ID, StatusCode: StatusNoContent}}
			},
			check: func(t *testing.T, s *gremlingo.GraphTraversalSource) {
				expectStrings(t, s)
			},
		},
		{
			name:   "an empty list with 200 is an empty result too",
			answer: reply([]any{}),
			check: func(t *testing.T, s *gremlingo.GraphTraversalSource) {
				expectStrings(t, s)
			},
		},
		{
			name: "an error status reaches ToList as an error carrying the message",
			answer: func(req *Request) []*Response {
				return []*Response{{RequestID: &req.ID, StatusCode: StatusServerError,
					StatusMessage: `{"code":"ConcurrentModificationException","detailedMessage":"conflict"}`}}
			},
			check: func(t *testing.T, s *gremlingo.GraphTraversalSource) {
				_, err := s.V().ToList()
				if err == nil {
					t.Fatal("ToList succeeded, want the server's error")
				}
				for _, want := range []string{"ConcurrentModificationException", "conflict", "statusCode: 244"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not contain %q", err, want)
					}
				}
			},
		},
		{
			name: "an error status reaches Iterate as an error carrying the message",
			answer: func(req *Request) []*Response {
				return []*Response{{RequestID: &req.ID, StatusCode: StatusEvaluationError, StatusMessage: "ThrottlingException"}}
			},
			check: func(t *testing.T, s *gremlingo.GraphTraversalSource) {
				err := <-s.V().Drop().Iterate()
				if err == nil || !strings.Contains(err.Error(), "ThrottlingException") {
					t.Fatalf("got %v, want the server's message", err)
				}
			},
		},
		{
			name: "Next hides an error status behind no-results-left",
			answer: func(req *Request) []*Response {
				return []*Response{{RequestID: &req.ID, StatusCode: StatusServerError, StatusMessage: "boom"}}
			},
			check: func(t *testing.T, s *gremlingo.GraphTraversalSource) {
				_, err := s.V().Next()
				if err == nil || !strings.Contains(err.Error(), "E0903") || strings.Contains(err.Error(), "boom") {
					t.Fatalf("got %v; gremlin-go v3.7.4 is expected to say E0903 without the message", err)
				}
			},
		},
		{
			name: "the connection still serves requests after an error status",
			answer: func() answerFunc {
				var n atomic.Int32
				return func(req *Request) []*Response {
					if n.Add(1) == 1 {
						return []*Response{{RequestID: &req.ID, StatusCode: StatusServerError, StatusMessage: "first fails"}}
					}
					return []*Response{{RequestID: &req.ID, StatusCode: StatusSuccess, Data: results("ok")}}
				}
			}(),
			check: func(t *testing.T, s *gremlingo.GraphTraversalSource) {
				if _, err := s.V().ToList(); err == nil {
					t.Fatal("the first request should fail")
				}
				expectStrings(t, s, "ok")
			},
		},
		{
			name: "scalars, sets, lists, paths and properties arrive as gremlin-go's types",
			answer: reply(results(
				int32(-1), int16(2), uint8(3), float32(0.5), 2.25, true, someUUID,
				big.NewInt(-129), []byte{9}, Set{"p"}, []any{"q", int64(1)},
				VertexProperty{ID: int64(7), Label: "name", Value: "x"},
				Property{Key: "requests", Value: int64(1200)},
				Path{Labels: []Set{{"s"}, {}}, Objects: []any{vertexA, "x"}},
				Enum{EnumDirection, "OUT"}, nil,
			)),
			check: func(t *testing.T, s *gremlingo.GraphTraversalSource) {
				rs, err := s.V().ToList()
				if err != nil {
					t.Fatal(err)
				}
				var got []any
				for _, r := range rs {
					got = append(got, r.Data)
				}
				set := gremlingo.NewSimpleSet("p")
				label := gremlingo.NewSimpleSet("s")
				want := []any{
					int32(-1), int16(2), uint8(3), float32(0.5), 2.25, true, someUUID,
					big.NewInt(-129), &gremlingo.ByteBuffer{Data: []byte{9}}, set, []any{"q", int64(1)},
					&gremlingo.VertexProperty{Element: gremlingo.Element{Id: int64(7), Label: "name",
						Properties: []any{}}, Value: "x"},
					&gremlingo.Property{Key: "requests", Value: int64(1200)},
					&gremlingo.Path{Labels: []gremlingo.Set{label, gremlingo.NewSimpleSet()},
						Objects: []any{&gremlingo.Vertex{Element: gremlingo.Element{Id: "a", Label: "Service",
							Properties: []any{}}}, "x"}},
					"OUT", nil,
				}
				if len(got) != len(want) {
					t.Fatalf("got %d results, want %d: %#v", len(got), len(want), got)
				}
				for i := range want {
					if !sameValue(got[i], want[i]) {
						t.Errorf("result %d: got %#v, want %#v", i, got[i], want[i])
					}
				}
			},
		},
		{
			name:   "dates and durations arrive as the same instant and length",
			answer: reply(results(someTime, 90*time.Second+5*time.Millisecond)),
			check: func(t *testing.T, s *gremlingo.GraphTraversalSource) {
				rs, err := s.V().ToList()
				if err != nil {
					t.Fatal(err)
				}
				if len(rs) != 2 {
					t.Fatalf("got %d results", len(rs))
				}
				if tm, ok := rs[0].Data.(time.Time); !ok || !tm.Equal(someTime) {
					t.Errorf("got %#v, want %v", rs[0].Data, someTime)
				}
				if d, ok := rs[1].Data.(time.Duration); !ok || d != 90*time.Second+5*time.Millisecond {
					t.Errorf("got %#v, want 1m30.005s", rs[1].Data)
				}
			},
		},
		{
			name:   "an enum gremlin-go cannot read back fails the request",
			answer: reply(results(Enum{EnumMerge, "onCreate"})),
			check: func(t *testing.T, s *gremlingo.GraphTraversalSource) {
				_, err := s.V().ToList()
				if err == nil || !strings.Contains(err.Error(), "E0408") {
					t.Fatalf("got %v; gremlin-go v3.7.4 has no reader for Merge (E0408)", err)
				}
			},
			kills: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := serve(t, tc.answer, serveOptions{leaveClientOpen: tc.kills})
			tc.check(t, s)
		})
	}
}

// expectStrings runs g.V() and wants exactly these results, in order.
func expectStrings(t *testing.T, s *gremlingo.GraphTraversalSource, want ...string) {
	t.Helper()
	rs, err := s.V().ToList()
	if err != nil {
		t.Fatal(err)
	}
	got := make([]string, 0, len(rs))
	for _, r := range rs {
		got = append(got, r.GetString())
	}
	if !reflect.DeepEqual(got, append([]string{}, want...)) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// gremlin-go pings every KeepAliveInterval (5 s by default) and gives up on a
// connection that has been silent for twice that. A server that stops reading
// while it works on a request does not answer the pings, so a slow request
// (injected latency, a long traversal) kills the connection; one that keeps
// reading does not.
func TestGremlinGoNeedsItsPingsAnsweredWhileARequestRuns(t *testing.T) {
	const keepAlive = 100 * time.Millisecond
	slow := func(req *Request) []*Response {
		time.Sleep(6 * keepAlive) // three times gremlin-go's read deadline
		return []*Response{{RequestID: &req.ID, StatusCode: StatusSuccess, Data: results("late")}}
	}
	t.Run("a server that keeps reading while it answers delivers a slow result", func(t *testing.T) {
		s, _ := serve(t, slow, serveOptions{concurrent: true, keepAlive: keepAlive})
		expectStrings(t, s, "late")
	})
	t.Run("a server that stops reading while it answers loses the connection", func(t *testing.T) {
		s, _ := serve(t, slow, serveOptions{keepAlive: keepAlive, leaveClientOpen: true})
		_, err := s.V().ToList()
		if err == nil || !strings.Contains(err.Error(), "timeout") {
			t.Fatalf("got %v, want gremlin-go's read timeout", err)
		}
	})
}
