package provision

import (
	"strings"
	"testing"
)

// A monitoring answer over the cap is an error that says so, never a
// truncated body handed to a JSON parser.
func TestReadCappedRefusesRatherThanTruncates(t *testing.T) {
	max := int64(2 << 20)
	body, err := readCapped(strings.NewReader(strings.Repeat("x", int(max))), max)
	if err != nil || int64(len(body)) != max {
		t.Fatalf("an answer of exactly the cap: %d bytes, %v", len(body), err)
	}
	_, err = readCapped(strings.NewReader(strings.Repeat("x", int(max)+1)), max)
	if err == nil || !strings.Contains(err.Error(), "larger than 2 MB") {
		t.Fatalf("an answer one byte over the cap: %v, want an error naming the cap", err)
	}
}
