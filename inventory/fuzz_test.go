package inventory_test

import (
	"os"
	"testing"

	"github.com/dcctl/dcctl/inventory"
)

// FuzzParse: no input makes the loader panic; bad input is an *inventory.Error.
func FuzzParse(f *testing.F) {
	f.Add([]byte(base))
	if ex, err := os.ReadFile("example.toml"); err == nil {
		f.Add(ex)
	}
	f.Add([]byte("[nodes.x]\nclient_port = 99999999999999999999\n"))
	f.Add([]byte("[[nodes]]\n"))
	f.Add([]byte("accounts = [1, 2]\n[clusters]\nA = 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, err := inventory.Parse("/tmp/fuzz.toml", data)
		if err == nil && inv == nil {
			t.Fatal("nil inventory without error")
		}
	})
}
