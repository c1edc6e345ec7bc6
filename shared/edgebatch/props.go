package edgebatch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Props are the properties of a vertex or an edge: string, bool or number
// values (see Validate). Numbers keep their kind across the wire, because
// Neptune does: an integer reaches the graph as a Long, any other number as a
// Double. JSON itself has one number type, so the kind is carried by how the
// number is written (DESIGN.md, "The message"):
//
//   - a number written without a fraction or exponent that fits in int64 is an
//     integer and decodes as int64;
//   - every other number decodes as float64.
//
// So MarshalJSON writes Go integers as integers and always gives a float a
// fraction or an exponent: float64(1200) is written 1200.0 and stays a Double,
// where encoding/json would write 1200 and make it a Long on the way.
type Props map[string]any

// MarshalJSON writes the properties in key order (as encoding/json does for a
// map), with floats that read back as floats. It does not validate: Encode
// and Split validate first.
func (p Props) MarshalJSON() ([]byte, error) {
	if p == nil {
		return []byte("null"), nil
	}
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	buf := make([]byte, 0, 32*len(p)+2)
	buf = append(buf, '{')
	for i, k := range keys {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendJSONString(buf, k)
		buf = append(buf, ':')
		var err error
		if buf, err = appendPropJSON(buf, p[k]); err != nil {
			return nil, fmt.Errorf("property %q: %w", k, err)
		}
	}
	return append(buf, '}'), nil
}

// UnmarshalJSON reads properties keeping each number's kind: int64 for an
// integer literal that fits, float64 for the rest. Values of other JSON
// kinds (null, arrays, objects) are kept for Validate to refuse with a
// message naming them.
func (p *Props) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		*p = nil
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return err
	}
	for k, v := range m {
		if n, ok := v.(json.Number); ok {
			m[k] = numberValue(string(n))
		}
	}
	*p = m
	return nil
}

// numberValue is a JSON number literal as the graph will hold it: int64 when
// it is written as an integer and fits, float64 otherwise (including an
// integer beyond int64, which only a Double can approximate).
func numberValue(lit string) any {
	if isIntegerLiteral(lit) {
		if n, err := strconv.ParseInt(lit, 10, 64); err == nil {
			return n
		}
	}
	f, _ := strconv.ParseFloat(lit, 64)
	return f
}

// isIntegerLiteral reports whether a JSON number literal has neither a
// fraction nor an exponent.
func isIntegerLiteral(lit string) bool {
	for i := 0; i < len(lit); i++ {
		switch lit[i] {
		case '.', 'e', 'E':
			return false
		}
	}
	return true
}

// appendPropJSON appends one property value's JSON.
func appendPropJSON(buf []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case string:
		return appendJSONString(buf, v), nil
	case bool:
		return strconv.AppendBool(buf, v), nil
	case float64:
		return appendFloat(buf, v, 64)
	case float32:
		return appendFloat(buf, float64(v), 32)
	case int:
		return strconv.AppendInt(buf, int64(v), 10), nil
	case int8:
		return strconv.AppendInt(buf, int64(v), 10), nil
	case int16:
		return strconv.AppendInt(buf, int64(v), 10), nil
	case int32:
		return strconv.AppendInt(buf, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(buf, v, 10), nil
	case uint:
		return strconv.AppendUint(buf, uint64(v), 10), nil
	case uint8:
		return strconv.AppendUint(buf, uint64(v), 10), nil
	case uint16:
		return strconv.AppendUint(buf, uint64(v), 10), nil
	case uint32:
		return strconv.AppendUint(buf, uint64(v), 10), nil
	case uint64:
		return strconv.AppendUint(buf, v, 10), nil
	case json.Number:
		if !isJSONNumber(string(v)) {
			return nil, fmt.Errorf("%q is not a JSON number", truncateID(string(v)))
		}
		return append(buf, v...), nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(buf, data...), nil
}

// appendFloat writes f as encoding/json does, plus ".0" when that would read
// as an integer.
func appendFloat(buf []byte, f float64, bits int) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("number %v is not finite", f)
	}
	start := len(buf)
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21)) {
		format = 'e'
	}
	buf = strconv.AppendFloat(buf, f, format, -1, bits)
	if format == 'e' {
		// Clean up e-09 to e-9, as encoding/json does.
		n := len(buf) - start
		if n >= 4 && buf[len(buf)-4] == 'e' && buf[len(buf)-3] == '-' && buf[len(buf)-2] == '0' {
			buf[len(buf)-2] = buf[len(buf)-1]
			buf = buf[:len(buf)-1]
		}
		return buf, nil
	}
	if !bytes.ContainsAny(buf[start:], ".e") {
		buf = append(buf, '.', '0')
	}
	return buf, nil
}

// appendJSONString appends s as a JSON string, escaping only what JSON
// requires (and, like the rest of the codec, not HTML): '"', '\\' and
// control characters. Invalid UTF-8 becomes U+FFFD, as with encoding/json.
func appendJSONString(buf []byte, s string) []byte {
	const hex = "0123456789abcdef"
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch c {
			case '"', '\\':
				buf = append(buf, '\\', c)
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}
