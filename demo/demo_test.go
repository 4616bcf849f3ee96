package demo_test

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/portcullis-sec/portcullis/demo"
)

// TestEstate: the embedded estate is rooted at the provider directories
// (what `audit --snapshot` and the provider tests read), and each holds
// snapshot JSON.
func TestEstate(t *testing.T) {
	fsys := demo.Estate()
	if _, err := fs.Stat(fsys, "README.md"); err != nil {
		t.Errorf("README.md: %v", err)
	}
	for _, p := range []string{"aws", "gcp", "azure"} {
		n := 0
		err := fs.WalkDir(fsys, p, func(name string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(name, ".json") {
				n++
			}
			return err
		})
		if err != nil || n == 0 {
			t.Errorf("%s: %d JSON files, %v", p, n, err)
		}
	}
}
