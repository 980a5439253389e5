package main

import (
	"fmt"
	"strings"
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
)

func newLeaseForTest() *coordinationv1.Lease { return &coordinationv1.Lease{} }

func TestWithSlotDone(t *testing.T) {
	for _, c := range []struct{ before, slot, want string }{
		{"", "a", `["a"]`},
		{`["a","b"]`, "c", `["a","b","c"]`},
		{`["a","b","c"]`, "b", `["a","c","b"]`}, // once, moved to the end
		{`not json`, "a", `["a"]`},
		{`{"a":1}`, "a", `["a"]`},
		{`["a",1]`, "b", `["b"]`},
		{`null`, "a", `["a"]`},
		{"", `x"<&>\é😀` + "\n\x7f", `["x\"<&>\\\u00e9\ud83d\ude00\n\u007f"]`}, // as Python's json.dumps
	} {
		if got := withSlotDone(c.before, c.slot); got != c.want {
			t.Errorf("withSlotDone(%q, %q) = %s, want %s", c.before, c.slot, got, c.want)
		}
	}
}

func TestWithSlotDoneKeepsTheNewest20(t *testing.T) {
	annotation := ""
	for i := range 25 {
		annotation = withSlotDone(annotation, fmt.Sprint(i))
	}
	slots := doneSlots(annotation)
	if len(slots) != 20 || slots[0] != "5" || slots[19] != "24" {
		t.Fatalf("%v", slots)
	}
	if !slotIsDone(annotation, "24") || slotIsDone(annotation, "4") {
		t.Fatal("slotIsDone")
	}
	if strings.Contains(annotation, " ") {
		t.Fatal("compact separators")
	}
}
