package edgebatch

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// checkKeys enforces what encoding/json lets through when it fills a Batch:
// object keys are matched exactly (not case-insensitively), unknown fields are
// refused, and no object holds the same key twice. data must be valid JSON
// (json.Unmarshal has accepted it), so the scanner only tracks keys.
func checkKeys(data []byte) error {
	s := keyScanner{data: data}
	return s.value(batchShape)
}

// shape is what the scanner expects at a position of the document.
type shape uint8

const (
	anyShape      shape = iota // any value: objects are checked for repeated keys only
	batchShape                 // the top-level object
	snapshotShape              // batch.snapshot
	sealShape                  // batch.seal
	verticesShape              // batch.vertices: an array of vertexShape
	edgesShape                 // batch.edges: an array of edgeShape
	vertexShape
	edgeShape
)

// fieldShape is the shape of field key of an object of shape parent, and
// whether parent has that field.
func fieldShape(parent shape, key []byte) (shape, bool) {
	if parent == anyShape {
		return anyShape, true
	}
	k := string(key) // does not escape: field names fit the compiler's stack buffer
	switch parent {
	case batchShape:
		switch k {
		case "v", "source", "observed_at":
			return anyShape, true
		case "snapshot":
			return snapshotShape, true
		case "seal":
			return sealShape, true
		case "vertices":
			return verticesShape, true
		case "edges":
			return edgesShape, true
		}
	case snapshotShape:
		switch k {
		case "id", "scope", "seq":
			return anyShape, true
		}
	case sealShape:
		if k == "batches" {
			return anyShape, true
		}
	case vertexShape:
		switch k {
		case "id", "label", "props":
			return anyShape, true
		}
	case edgeShape:
		switch k {
		case "id", "label", "from", "to", "props":
			return anyShape, true
		}
	}
	return anyShape, false
}

// pathSeg is one step of the path to the scanner's position: an object key
// or, when key is nil, an array index.
type pathSeg struct {
	key []byte
	idx int
}

type keyScanner struct {
	data []byte
	i    int
	keys [][]byte // the keys of the open objects, innermost last
	path []pathSeg
}

// linearKeys is how many keys an object may have before the scanner looks up
// repeats in a map rather than by comparing with each.
const linearKeys = 16

func (s *keyScanner) value(sh shape) error {
	s.skipSpace()
	switch s.data[s.i] {
	case '{':
		return s.object(sh)
	case '[':
		return s.array(sh)
	}
	if sh == batchShape {
		return malformed("body is not a JSON object")
	}
	if s.data[s.i] == '"' {
		s.string()
		return nil
	}
	for s.i < len(s.data) && !isDelim(s.data[s.i]) {
		s.i++
	}
	return nil
}

func isDelim(ch byte) bool {
	switch ch {
	case ',', ']', '}', ' ', '\t', '\r', '\n':
		return true
	}
	return false
}

func (s *keyScanner) skipSpace() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

// string skips a string at s.i and returns its content (between the quotes)
// and whether it holds an escape.
func (s *keyScanner) string() (content []byte, escaped bool) {
	s.i++ // '"'
	start := s.i
	for {
		switch s.data[s.i] {
		case '"':
			content = s.data[start:s.i]
			s.i++
			return content, escaped
		case '\\':
			escaped = true
			s.i += 2
		default:
			s.i++
		}
	}
}

func (s *keyScanner) array(sh shape) error {
	elem := anyShape
	switch sh {
	case verticesShape:
		elem = vertexShape
	case edgesShape:
		elem = edgeShape
	}
	s.i++ // '['
	s.skipSpace()
	if s.data[s.i] == ']' {
		s.i++
		return nil
	}
	for idx := 0; ; idx++ {
		s.path = append(s.path, pathSeg{idx: idx})
		if err := s.value(elem); err != nil {
			return err
		}
		s.path = s.path[:len(s.path)-1]
		s.skipSpace()
		if s.data[s.i] == ']' {
			s.i++
			return nil
		}
		s.i++ // ','
	}
}

func (s *keyScanner) object(sh shape) error {
	s.i++ // '{'
	start := len(s.keys)
	defer func() { s.keys = s.keys[:start] }()
	var seen map[string]struct{} // once the object has more than linearKeys keys
	s.skipSpace()
	if s.data[s.i] == '}' {
		s.i++
		return nil
	}
	for {
		s.skipSpace()
		raw := s.i
		key, escaped := s.string()
		if escaped {
			var k string
			if err := json.Unmarshal(s.data[raw:s.i], &k); err != nil {
				return malformed("%s: bad key: %v", s.where(), err)
			}
			key = []byte(k)
		}
		if sh != anyShape {
			if _, ok := fieldShape(sh, key); !ok {
				return malformed("%s: unknown field %s", s.where(), strconv.Quote(truncateID(string(key))))
			}
		}
		own := s.keys[start:]
		switch {
		case seen != nil:
			_, dup := seen[string(key)]
			if dup {
				return s.repeated(key)
			}
			seen[string(key)] = struct{}{}
		case len(own) < linearKeys:
			for _, k := range own {
				if bytes.Equal(k, key) {
					return s.repeated(key)
				}
			}
		default:
			seen = make(map[string]struct{}, 2*linearKeys)
			for _, k := range own {
				seen[string(k)] = struct{}{}
			}
			if _, dup := seen[string(key)]; dup {
				return s.repeated(key)
			}
			seen[string(key)] = struct{}{}
		}
		s.keys = append(s.keys, key)

		s.skipSpace()
		s.i++ // ':'
		child, _ := fieldShape(sh, key)
		s.path = append(s.path, pathSeg{key: key})
		if err := s.value(child); err != nil {
			return err
		}
		s.path = s.path[:len(s.path)-1]
		s.skipSpace()
		if s.data[s.i] == '}' {
			s.i++
			return nil
		}
		s.i++ // ','
	}
}

func (s *keyScanner) repeated(key []byte) error {
	return malformed("%s: key %s appears twice", s.where(), strconv.Quote(truncateID(string(key))))
}

// where is the path of the object being scanned, as Validate writes paths.
func (s *keyScanner) where() string {
	if len(s.path) == 0 {
		return "batch"
	}
	var sb strings.Builder
	for i, seg := range s.path {
		switch {
		case seg.key == nil:
			sb.WriteString("[" + strconv.Itoa(seg.idx) + "]")
		case i > 0 && s.path[i-1].key != nil && string(s.path[i-1].key) == "props":
			sb.WriteString("[" + strconv.Quote(truncateID(string(seg.key))) + "]")
		default:
			if i > 0 {
				sb.WriteByte('.')
			}
			sb.Write(seg.key)
		}
	}
	return sb.String()
}
