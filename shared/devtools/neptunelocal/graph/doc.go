// Package graph is the in-memory property graph and Gremlin traversal executor
// of graphfleet's local Amazon Neptune stand-in (a test and development
// server; the WebSocket/GraphBinary side lives in package graphbinary and the
// server around it).
//
// # Transactions and concurrency
//
// Execute runs one traversal (*graphbinary.Bytecode) as one transaction: a
// traversal that writes holds the graph's write lock for its whole run and
// keeps an undo log; any error (including a cancelled context, checked before
// every step) rolls every change back. Read-only traversals, Dump and Counts
// share a read lock, so they always see committed state. A traversal of more
// than MaxSteps instructions (CountSteps: source instructions and steps,
// nested traversals included) is refused before it runs.
//
// # Steps
//
// Start steps: V, E, addV, addE, mergeV, mergeE, inject. Also: V/E/addV/
// addE/mergeV/mergeE/inject mid-traversal; property (with or without
// cardinality, property(Map), folded into addV/addE as GraphTraversal does);
// has (key / key,value / key,P / label,key,value / T.id, T.label), hasLabel,
// hasId, hasNot, is; id, label, key, value, values, properties, valueMap
// (keys, true, with(WithOptions.tokens), by()), elementMap; count, fold,
// unfold, dedup, limit, range, constant, identity, none (sent by iterate());
// coalesce, union, optional, sideEffect, where(traversal), not, and, or;
// as, select (keys, Pop, by()), project/by; out, in, both, outE, inE, bothE,
// outV, inV, bothV, otherV; drop (vertices, edges, properties); option
// (Merge.onCreate/onMatch/outV/inV, and option(Merge, Map, Cardinality));
// from/to (step label, Vertex, traversal); predicates P.eq/neq/lt/lte/gt/gte/
// between/inside/outside/within/without/not/and/or and the TextP ones.
// Anything else is an *Error with Code UnsupportedOperationException naming
// the step. Lambdas are refused. Source instructions: withStrategies (none,
// OptionsStrategy, ReadOnlyStrategy, LambdaRestrictionStrategy), withoutStrategies,
// withSideEffect, withPath, withBulk; other strategies and sources are refused.
//
// Steps run eagerly, one step over all traversers at a time; nested
// traversals used for a single value (by(), property values, from()/to(),
// merge options, where/not/and/or) run depth-first and stop at their first
// result, as TinkerPop's next()/hasNext() do. limit()/range() after a write
// are refused, because how many writes TinkerPop's lazy iterators perform
// before a limit stops them is an artefact of its implementation.
//
// # Neptune rather than TinkerGraph
//
//   - Ids are strings. A non-string id (T.id in addV/property/mergeV/mergeE,
//     or an id looked up with V()/E()/hasId) is refused with Neptune's
//     UnsupportedOperationException "Expected an id that is convertible to
//     String but received class java.lang.Integer". Generated ids are UUID
//     strings. Empty ids and the reserved "neptune_reserved" prefix are
//     refused on create.
//   - addV/addE with an existing id: ConstraintViolationException "Vertex
//     with id already exists: <id>" / "Edge with id already exists: <id>",
//     except that addV() naming a label the vertex lacks adds that label (and
//     the properties), as Neptune documents. mergeV/mergeE creating an
//     existing id (search map with T.id plus keys that do not match) is
//     refused the same way.
//   - Vertex properties default to set cardinality, also for mergeV maps
//     without an explicit cardinality: property(k, v2) keeps v1; single
//     replaces; list cardinality and meta-properties are refused. Edge
//     properties are single-valued. property(k, null) removes k (TinkerPop's
//     rule for graphs without null values); null values in mergeV/mergeE maps
//     are refused ("mergeV() does not allow null Map values"). Property
//     values are strings, numbers, booleans and dates; lists, maps and other
//     types are refused.
//   - Vertices may have several labels: addV("a::b"); label() joins them with
//     "::"; hasLabel("a") matches, hasLabel("a::b") does not.
//   - mergeE endpoints must exist: "Vertex does not exist for mergeE: <id>".
package graph
