package edgebatch

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestReplayCopy(t *testing.T) {
	t.Parallel()
	t.Run("keeps every attribute and marks the copy", func(t *testing.T) {
		in := map[string]string{AttrSchema: Schema, AttrSource: "aws", "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
			AttrError: "no vertices", AttrOriginalMessageID: "m-1"}
		m, err := ReplayCopy("{}", in)
		if err != nil {
			t.Fatal(err)
		}
		if m.Body != "{}" || len(m.Attributes) != len(in)+1 || m.Attributes[AttrReplay] != "true" {
			t.Fatalf("%+v", m)
		}
		for k, v := range in {
			if m.Attributes[k] != v {
				t.Fatalf("%s = %q; want %q", k, m.Attributes[k], v)
			}
		}
		if _, ok := in[AttrReplay]; ok {
			t.Fatal("the caller's map was changed")
		}
	})
	t.Run("at ten attributes the reason makes room, then the id", func(t *testing.T) {
		in := map[string]string{AttrError: "e", AttrOriginalMessageID: "m-1"}
		for i := range 8 {
			in[fmt.Sprint("a", i)] = "v"
		}
		m, err := ReplayCopy("{}", in)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := m.Attributes[AttrError]; ok || len(m.Attributes) != MaxAttributes || m.Attributes[AttrOriginalMessageID] != "m-1" {
			t.Fatalf("%v", m.Attributes)
		}
		in["a8"] = "v"
		m, err = ReplayCopy("{}", in)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := m.Attributes[AttrOriginalMessageID]; ok || len(m.Attributes) != MaxAttributes {
			t.Fatalf("%v", m.Attributes)
		}
	})
	t.Run("a body that leaves no room is refused", func(t *testing.T) {
		body := strings.Repeat("x", MaxMessageBytes-attributesSize(map[string]string{"k": "v"}))
		if _, err := ReplayCopy(body, map[string]string{"k": "v"}); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("err %v; want ErrTooLarge", err)
		}
	})
}
