// Package graphbinary is the stand-in's own codec for TinkerPop's GraphBinary v1
// serialisation: the request and response messages that gremlin-go (and Neptune)
// exchange over the /gremlin WebSocket, and the value model the traversal engine
// executes.
//
// Values decode to plain Go types where one fits, so the engine can compare them
// without a type switch per wire type:
//
//	Int      int32          Long      int64        Short  int16      Byte uint8
//	Double   float64        Float     float32      Boolean bool      String string
//	Date/Timestamp time.Time UUID     uuid.UUID    null   nil
//	List     []any          Set       Set          Map    map[any]any
//	BigInteger *big.Int     ByteBuffer []byte     Duration time.Duration
//
// and to the types below for the rest, as values (Vertex, P, Traverser, Enum,
// ...) except Bytecode, which is always a *Bytecode. WriteValue also accepts
// pointers to them. A wire type the codec does not know is an error naming the
// type code, never a silent skip. A null of any type decodes to nil.
package graphbinary

import (
	"math/big"

	"github.com/google/uuid"
)

// Request is a client's request message: {op, processor, args}. For the
// bytecode op, Args["gremlin"] is a *Bytecode and Args["aliases"] maps the
// traversal source name ("g") to the graph's name.
type Request struct {
	ID        uuid.UUID
	Op        string
	Processor string
	Args      map[string]any
}

// Response is one response message. A result larger than the server's batch
// size is sent as several responses with StatusCode 206 and a final 200.
type Response struct {
	RequestID        *uuid.UUID // nil only for errors not tied to a request
	StatusCode       int32
	StatusMessage    string // written as null when empty
	StatusAttributes map[string]any
	ResultMeta       map[string]any
	Data             any // for traversal results: []any of Traverser
}

// Bytecode is a traversal: source instructions (withStrategies, ...) then steps.
// Nested (anonymous) traversals appear as *Bytecode values inside Args.
type Bytecode struct {
	Sources []Instruction
	Steps   []Instruction
}

// Instruction is one step or source instruction and its arguments.
type Instruction struct {
	Operator string
	Args     []any
}

// EnumType names which Gremlin enum an Enum value belongs to.
type EnumType string

// The enums the engine understands. Each is its own GraphBinary type code.
const (
	EnumT           EnumType = "T"
	EnumDirection   EnumType = "Direction"
	EnumMerge       EnumType = "Merge"
	EnumCardinality EnumType = "Cardinality"
	EnumOrder       EnumType = "Order"
	EnumScope       EnumType = "Scope"
	EnumColumn      EnumType = "Column"
	EnumPop         EnumType = "Pop"
	EnumPick        EnumType = "Pick"
	EnumBarrier     EnumType = "Barrier"
	EnumOperator    EnumType = "Operator"
	EnumDT          EnumType = "DT"
)

// Enum is a value of a Gremlin enum, e.g. {EnumT, "id"} for T.id or
// {EnumDirection, "OUT"} for Direction.OUT / Direction.from. It is comparable,
// so T.id and T.label can be keys of a map[any]any.
type Enum struct {
	Type  EnumType
	Value string
}

// P is a predicate such as P.gt(3) or P.within('a','b'). Text marks a TextP
// (containing, startingWith, ...). For and/or, Values holds the two P operands.
type P struct {
	Operator string
	Values   []any
	Text     bool
}

// Traverser is a result carrying its bulk (how many times it stands).
type Traverser struct {
	Bulk  int64
	Value any
}

// Set is a GraphBinary Set; kept apart from List so results round-trip.
type Set []any

// Vertex is a reference vertex as results carry it (no properties).
type Vertex struct {
	ID    any
	Label string
}

// Edge is a reference edge.
type Edge struct {
	ID    any
	Label string
	OutV  Vertex
	InV   Vertex
}

// VertexProperty is one value of a vertex's property.
type VertexProperty struct {
	ID    any
	Label string
	Value any
}

// Property is an edge's (or meta-) property.
type Property struct {
	Key   string
	Value any
}

// Binding is a named argument (b.of("name", value)). Neptune ignores names.
type Binding struct {
	Key   string
	Value any
}

// Strategy is a TraversalStrategy sent in a withStrategies source instruction.
type Strategy struct {
	Class  string
	Config map[string]any
}

// Lambda is a lambda argument; the stand-in refuses them, as Neptune does.
type Lambda struct {
	Script   string
	Language string
	Args     int32
}

// Path is a path() result: the objects a traverser visited, each with the set
// of step labels it was given (Labels[i] labels Objects[i]; each Set holds
// strings).
type Path struct {
	Labels  []Set
	Objects []any
}

// BigDecimal is Unscaled × 10^-Scale, as Java's BigDecimal. The codec only
// carries it; gremlin-go sends one for a gremlingo.BigDecimal argument.
type BigDecimal struct {
	Unscaled *big.Int
	Scale    int32
}

// Class is a GraphBinary Class: a Java class name (gremlin-go's GremlinType).
type Class struct {
	Name string
}
