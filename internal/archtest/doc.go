// Package archtest holds the repository's import rules as a test: the layout
// in the README ("Layout") and docs/ says which package may import which, and
// TestLayout fails, naming the rule, the file and the import, as soon as a
// change breaks one. The same rules are mirrored for editors and `make lint`
// by depguard in .golangci.yml; this test is the one that CI cannot skip.
//
// The package has no code of its own: the rules are in layout_test.go and
// the checker in check_test.go.
package archtest
