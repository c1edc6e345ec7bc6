package edgebatch

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
)

// DefaultMaxElements is how many vertices plus edges Split puts in one batch
// unless told otherwise: at a few records per element, some tens of Neptune
// requests of about 200 records, which a worker applies well within a
// visibility timeout.
const DefaultMaxElements = 2_000

// MinSplitBytes is the smallest SplitLimits.MaxBytes: room for a seal batch
// with the longest snapshot id and scope (unless their JSON needs many
// escapes, which Split then reports).
const MinSplitBytes = 4 << 10

// SplitLimits bounds the batches Split makes. The zero value means the defaults.
type SplitLimits struct {
	// MaxElements is the most vertices plus edges per batch: 3 to
	// MaxBatchElements. Zero means DefaultMaxElements.
	MaxElements int
	// MaxBytes is the most each batch's message may count as Encode counts it
	// (body and attributes, as SQS does): MinSplitBytes to MaxEncodedBytes.
	// Zero means MaxEncodedBytes. Lower it by the size of any attributes the
	// batches will be given through EncodeWith.
	MaxBytes int
}

func (l SplitLimits) withDefaults() (SplitLimits, error) {
	if l.MaxElements == 0 {
		l.MaxElements = DefaultMaxElements
	}
	if l.MaxBytes == 0 {
		l.MaxBytes = MaxEncodedBytes
	}
	if l.MaxElements < 3 || l.MaxElements > MaxBatchElements {
		return l, fmt.Errorf("edgebatch: SplitLimits.MaxElements is %d; want 3 to %d (an edge needs itself and two vertices)", l.MaxElements, MaxBatchElements)
	}
	if l.MaxBytes < MinSplitBytes || l.MaxBytes > MaxEncodedBytes {
		return l, fmt.Errorf("edgebatch: SplitLimits.MaxBytes is %d; want %d to %d", l.MaxBytes, MinSplitBytes, MaxEncodedBytes)
	}
	return l, nil
}

// Split turns b, a batch of any size (every vertex and edge of one discovery,
// say), into self-contained batches whose messages each fit lim, so that
// Encode never fails on them and never needs more than one message per batch.
//
// Every vertex and edge of b is in at least one batch and every edge in
// exactly one; nothing is truncated or dropped. Each edge travels with its two
// endpoint vertices, so a vertex is repeated in every batch that holds one of
// its edges; vertices without edges fill the remaining room. A vertex or edge
// that b holds twice with the same content (which Validate allows) is sent
// once. To keep repetition low, edges are packed in order of (from, to, id):
// the edges of one vertex stay together, and ids that share a prefix
// (a namespace, an account) tend to meet in one batch. The output does not
// depend on the order of b's elements.
//
// When b has a snapshot (its Seq is ignored), the batches are numbered 0 to
// N-1 and a seal batch with Seal{Batches: N} and seq N follows; a snapshot with
// no elements is one empty batch and its seal, so that it still sweeps. Without
// a snapshot, an empty b gives no batches. b must not be a seal.
//
// Sizes are computed exactly from each element's JSON, as Encode writes it;
// since Encode only compresses when that makes the message smaller, the bound
// holds whether or not a batch is compressed. Batches share Props maps with b.
//
// Errors: a *ValidationError for a b that breaks a rule other than the batch
// size (paths refer to b), and errors wrapping ErrTooLarge naming each element
// that cannot fit in a batch even alone. The cost is one JSON marshal of every
// element and a sort of the edges.
func Split(b *Batch, lim SplitLimits) ([]*Batch, error) {
	batches, _, err := split(b, lim)
	return batches, err
}

// split is Split that also returns the size of each batch's message as Split
// computed it, for tests.
func split(b *Batch, lim SplitLimits) ([]*Batch, []int, error) {
	lim, err := lim.withDefaults()
	if err != nil {
		return nil, nil, err
	}
	var c checker
	c.batch(b, true)
	if err := c.err(); err != nil {
		return nil, nil, err
	}
	if b.Seal != nil {
		return nil, nil, errors.New("edgebatch: Split takes a batch of data, not a seal")
	}

	p, err := newPacker(b, lim)
	if err != nil {
		return nil, nil, err
	}
	if err := p.pack(); err != nil {
		return nil, nil, err
	}
	return p.batches()
}

// packer holds the state of one Split.
type packer struct {
	b   *Batch
	lim SplitLimits

	verts  []int // index into b.Vertices of each distinct vertex
	vsize  []int // JSON size of each distinct vertex
	vindex map[string]int
	edges  []int // index into b.Edges of each distinct edge
	esize  []int
	efrom  []int // distinct-vertex index of each distinct edge's endpoints
	eto    []int

	base0    int // JSON size of the header with seq 0 (or without a snapshot), and the attributes
	snapshot bool
	plans    []plan
	cur      plan
	inCur    []int // inCur[v] == len(plans)+1 when distinct vertex v is in cur
	touched  []bool
	tooLarge []error
}

// plan is the content of one batch: distinct-vertex and distinct-edge indices.
type plan struct {
	verts, edges   []int
	vbytes, ebytes int
	size           int
}

// JSON framing of the arrays within a batch (the header's closing brace is
// already counted).
const (
	verticesFraming = len(`,"vertices":[]`)
	edgesFraming    = len(`,"edges":[]`)
)

func newPacker(b *Batch, lim SplitLimits) (*packer, error) {
	p := &packer{b: b, lim: lim, vindex: make(map[string]int, len(b.Vertices)), snapshot: b.Snapshot != nil}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	measure := func(v any) (int, error) {
		buf.Reset()
		if err := enc.Encode(v); err != nil {
			return 0, err
		}
		data := buf.Bytes()
		return len(data) - 1 + 3*countNonchars(data), nil // -1: Encode's newline
	}

	head := Batch{V: Version, Source: b.Source, ObservedAt: b.ObservedAt}
	if b.Snapshot != nil {
		head.Snapshot = &Snapshot{ID: b.Snapshot.ID, Scope: b.Snapshot.Scope}
	}
	n, err := measure(&head)
	if err != nil {
		return nil, fmt.Errorf("edgebatch: cannot marshal batch header: %w", err)
	}
	p.base0 = n + attributeSize(AttrSchema, Schema) + attributeSize(AttrSource, b.Source)

	for i := range b.Vertices {
		v := &b.Vertices[i]
		if _, dup := p.vindex[v.ID]; dup {
			continue // same content: Validate refused a difference
		}
		n, err := measure(v)
		if err != nil {
			return nil, fmt.Errorf("edgebatch: cannot marshal vertices[%d]: %w", i, err)
		}
		p.vindex[v.ID] = len(p.verts)
		p.verts = append(p.verts, i)
		p.vsize = append(p.vsize, n)
	}
	eindex := make(map[string]struct{}, len(b.Edges))
	for i := range b.Edges {
		e := &b.Edges[i]
		if _, dup := eindex[e.ID]; dup {
			continue
		}
		eindex[e.ID] = struct{}{}
		n, err := measure(e)
		if err != nil {
			return nil, fmt.Errorf("edgebatch: cannot marshal edges[%d]: %w", i, err)
		}
		p.edges = append(p.edges, i)
		p.esize = append(p.esize, n)
		p.efrom = append(p.efrom, p.vindex[e.From])
		p.eto = append(p.eto, p.vindex[e.To])
	}
	p.inCur = make([]int, len(p.verts))
	p.touched = make([]bool, len(p.verts))
	return p, nil
}

// size is the message size of a batch numbered seq with nv vertices of vb
// bytes and ne edges of eb bytes.
func (p *packer) size(seq, nv, vb, ne, eb int) int {
	n := p.base0
	if p.snapshot {
		n += digits(seq) - 1 // base0 has seq 0
	}
	if nv > 0 {
		n += verticesFraming + vb + nv - 1
	}
	if ne > 0 {
		n += edgesFraming + eb + ne - 1
	}
	return n
}

func digits(n int) int { return len(strconv.Itoa(n)) }

// pack fills the plans: edges first, in (from, to, id) order, then the
// vertices no edge touched, in id order; next fit, so every batch but the
// last is full to within one element.
func (p *packer) pack() error {
	order := make([]int, len(p.edges))
	for i := range order {
		order[i] = i
	}
	id := func(v int) string { return p.b.Vertices[p.verts[v]].ID }
	slices.SortFunc(order, func(x, y int) int {
		return cmp.Or(
			cmp.Compare(id(p.efrom[x]), id(p.efrom[y])),
			cmp.Compare(id(p.eto[x]), id(p.eto[y])),
			cmp.Compare(p.b.Edges[p.edges[x]].ID, p.b.Edges[p.edges[y]].ID),
		)
	})

	// Elements that cannot fit even alone, all reported at once.
	for v := range p.verts {
		if n := p.size(0, 1, p.vsize[v], 0, 0); n > p.lim.MaxBytes {
			p.tooLarge = append(p.tooLarge, fmt.Errorf("%w: vertices[%d] (id %s) makes a %d-byte message alone; at most %d", ErrTooLarge, p.verts[v], quote(truncateID(id(v))), n, p.lim.MaxBytes))
		}
	}
	for e := range p.edges {
		nv, vb := 1, p.vsize[p.efrom[e]]
		if p.eto[e] != p.efrom[e] {
			nv, vb = 2, vb+p.vsize[p.eto[e]]
		}
		if n := p.size(0, nv, vb, 1, p.esize[e]); n > p.lim.MaxBytes {
			p.tooLarge = append(p.tooLarge, fmt.Errorf("%w: edges[%d] (id %s) with its vertices makes a %d-byte message alone; at most %d", ErrTooLarge, p.edges[e], quote(truncateID(p.b.Edges[p.edges[e]].ID)), n, p.lim.MaxBytes))
		}
	}
	if len(p.tooLarge) > 0 {
		return errors.Join(p.tooLarge...)
	}

	var ends [2]int
	for _, e := range order {
		ends[0], ends[1] = p.efrom[e], p.eto[e]
		nends := 2
		if ends[0] == ends[1] {
			nends = 1
		}
		if err := p.add(ends[:nends], e); err != nil {
			return err
		}
	}
	var lone []int
	for v := range p.verts {
		if !p.touched[v] {
			lone = append(lone, v)
		}
	}
	slices.SortFunc(lone, func(x, y int) int { return cmp.Compare(id(x), id(y)) })
	for _, v := range lone {
		ends[0] = v
		if err := p.add(ends[:1], -1); err != nil {
			return err
		}
	}
	if len(p.cur.verts)+len(p.cur.edges) > 0 || len(p.plans) == 0 && p.snapshot {
		p.flush()
	}
	return nil
}

// add puts edge e (or no edge when e < 0) and the vertices vs into the
// current batch, starting a new one when they do not fit.
func (p *packer) add(vs []int, e int) error {
	for {
		mark := len(p.plans) + 1
		nv, vb := len(p.cur.verts), p.cur.vbytes
		for _, v := range vs {
			if p.inCur[v] != mark {
				nv++
				vb += p.vsize[v]
			}
		}
		ne, eb := len(p.cur.edges), p.cur.ebytes
		if e >= 0 {
			ne++
			eb += p.esize[e]
		}
		size := p.size(len(p.plans), nv, vb, ne, eb)
		if nv+ne <= p.lim.MaxElements && size <= p.lim.MaxBytes {
			for _, v := range vs {
				if p.inCur[v] != mark {
					p.inCur[v] = mark
					p.cur.verts = append(p.cur.verts, v)
				}
				p.touched[v] = true
			}
			if e >= 0 {
				p.cur.edges = append(p.cur.edges, e)
			}
			p.cur.vbytes, p.cur.ebytes, p.cur.size = vb, eb, size
			return nil
		}
		if len(p.cur.verts)+len(p.cur.edges) == 0 {
			// Alone in a fresh batch and still too large: only a batch
			// number with more digits than the pre-check's 0 can do this.
			what := fmt.Sprintf("vertices[%d]", p.verts[vs[0]])
			if e >= 0 {
				what = fmt.Sprintf("edges[%d]", p.edges[e])
			}
			return fmt.Errorf("%w: %s makes a %d-byte message alone; at most %d", ErrTooLarge, what, size, p.lim.MaxBytes)
		}
		p.flush()
	}
}

func (p *packer) flush() {
	if p.cur.size == 0 {
		p.cur.size = p.size(len(p.plans), 0, 0, 0, 0)
	}
	p.plans = append(p.plans, p.cur)
	p.cur = plan{}
}

// batches builds the batches of the plans, and the seal for a snapshot.
func (p *packer) batches() ([]*Batch, []int, error) {
	out := make([]*Batch, 0, len(p.plans)+1)
	sizes := make([]int, 0, len(p.plans)+1)
	for seq, pl := range p.plans {
		nb := &Batch{V: Version, Source: p.b.Source, ObservedAt: p.b.ObservedAt}
		if p.snapshot {
			nb.Snapshot = &Snapshot{ID: p.b.Snapshot.ID, Scope: p.b.Snapshot.Scope, Seq: seq}
		}
		if len(pl.verts) > 0 {
			nb.Vertices = make([]Vertex, len(pl.verts))
			for i, v := range pl.verts {
				nb.Vertices[i] = p.b.Vertices[p.verts[v]]
			}
		}
		if len(pl.edges) > 0 {
			nb.Edges = make([]Edge, len(pl.edges))
			for i, e := range pl.edges {
				nb.Edges[i] = p.b.Edges[p.edges[e]]
			}
		}
		out = append(out, nb)
		sizes = append(sizes, pl.size)
	}
	if p.snapshot {
		n := len(p.plans)
		seal := &Batch{
			V: Version, Source: p.b.Source, ObservedAt: p.b.ObservedAt,
			Snapshot: &Snapshot{ID: p.b.Snapshot.ID, Scope: p.b.Snapshot.Scope, Seq: n},
			Seal:     &Seal{Batches: n},
		}
		out = append(out, seal)
		sizes = append(sizes, p.size(n, 0, 0, 0, 0)+len(`,"seal":{"batches":}`)+digits(n))
	}
	for i, n := range sizes {
		if n > p.lim.MaxBytes {
			// Only a header (source, snapshot id and scope) of thousands
			// of escaped bytes gets here.
			return nil, nil, fmt.Errorf("%w: batch %d makes a %d-byte message; at most %d", ErrTooLarge, i, n, p.lim.MaxBytes)
		}
	}
	return out, sizes, nil
}
