package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// pkg is one package of the module as the checker sees it: every import of
// a module package by any of its files, test files and files excluded by
// build constraints included (a rule holds whatever the tags).
type pkg struct {
	path     string // module-relative: "." for the module root, "providers/aws"
	testOnly bool   // the directory has no non-test Go file
	uses     []use
}

// use is one import of a module package by one file.
type use struct {
	path string // module-relative import path
	pos  string // module-relative file:line of the import
	test bool   // from a _test.go file
}

type mode int

const (
	only  mode = iota // the bound packages import no module package but these
	never             // the bound packages import none of these
)

// rule is one fact of the layout. Patterns are module-relative: "x" is the
// package x, "x/..." is x and everything under it, "*" is one path element.
// A package may always import itself (an external test does) and its own
// subpackages (probe imports probe/lab): a rule is about other rooms.
type rule struct {
	fact   string   // the rule as the README says it; failures quote it
	from   []string // the packages it binds
	except []exception
	mode   mode
	paths  []string // only: what may be imported; never: what may not
	// prodOnly: the rule binds the imports of non-test files only (tests
	// may use what shipped code must not).
	prodOnly bool
}

// exception releases one package from a rule, with the reason. A test-only
// exception holds only while the package has no non-test file, so it can
// never let the production graph break the rule.
type exception struct {
	pkg      string
	testOnly bool
	why      string
}

// check returns one message per broken rule and import, sorted.
func check(pkgs []pkg, rules []rule) []string {
	var out []string
	for _, r := range rules {
		for _, p := range pkgs {
			if !matchAny(r.from, p.path) {
				continue
			}
			if e, ok := excepted(r, p.path); ok {
				if e.testOnly && !p.testOnly {
					out = append(out, fmt.Sprintf("%s: excepted from the rule %q as a test-only package (%s), but it has non-test Go files", p.path, r.fact, e.why))
				}
				continue
			}
			for _, u := range p.uses {
				if ownRoom(p.path, u.path) || r.prodOnly && u.test {
					continue
				}
				if broken(r, u.path) {
					out = append(out, fmt.Sprintf("%s: %s imports %s%s, which breaks the rule %q", u.pos, display(p.path), display(u.path), testNote(u), r.fact))
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// ownRoom: a package's import of itself or of its own subpackages. The module
// root is nobody's parent here: it is a package like the others.
func ownRoom(pkg, imp string) bool {
	return imp == pkg || pkg != "." && strings.HasPrefix(imp, pkg+"/")
}

func broken(r rule, imp string) bool {
	if r.mode == only {
		return !matchAny(r.paths, imp)
	}
	return matchAny(r.paths, imp)
}

func excepted(r rule, path string) (exception, bool) {
	for _, e := range r.except {
		if match(e.pkg, path) {
			return e, true
		}
	}
	return exception{}, false
}

// display names a package in a message; "." alone would be easy to miss.
func display(path string) string {
	if path == "." {
		return "the module root package"
	}
	return path
}

func testNote(u use) string {
	if u.test {
		return " (in a test)"
	}
	return ""
}

func matchAny(patterns []string, path string) bool {
	for _, p := range patterns {
		if match(p, path) {
			return true
		}
	}
	return false
}

// match reports whether a module-relative package path matches a pattern.
func match(pattern, path string) bool {
	if pattern == "..." {
		return true
	}
	if path == "." {
		return pattern == "."
	}
	pat, elems := strings.Split(pattern, "/"), strings.Split(path, "/")
	if pat[len(pat)-1] == "..." {
		pat = pat[:len(pat)-1]
		if len(elems) < len(pat) {
			return false
		}
		elems = elems[:len(pat)]
	}
	if len(pat) != len(elems) {
		return false
	}
	for i := range pat {
		if pat[i] != "*" && pat[i] != elems[i] {
			return false
		}
	}
	return true
}

// listed is what `go list -json` says of one package.
type listed struct {
	ImportPath     string
	Dir            string
	GoFiles        []string
	CgoFiles       []string
	TestGoFiles    []string
	XTestGoFiles   []string
	IgnoredGoFiles []string
	Error          *struct{ Err string }
}

// load lists every package of the module that holds dir (`go list ./...`
// from the module root) and parses the imports of each of its Go files.
func load(dir string) (modPath string, pkgs []pkg, err error) {
	root, err := goCmd(dir, "list", "-m", "-f", "{{.Path}} {{.Dir}}")
	if err != nil {
		return "", nil, err
	}
	modPath, modDir, ok := strings.Cut(strings.TrimSpace(root), " ")
	if !ok {
		return "", nil, fmt.Errorf("go list -m: unexpected output %q", root)
	}
	out, err := goCmd(modDir, "list", "-e", "-json=ImportPath,Dir,GoFiles,CgoFiles,TestGoFiles,XTestGoFiles,IgnoredGoFiles,Error", "./...")
	if err != nil {
		return "", nil, err
	}
	dec := json.NewDecoder(strings.NewReader(out))
	fset := token.NewFileSet()
	for {
		var l listed
		if err := dec.Decode(&l); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return "", nil, fmt.Errorf("decode go list output: %w", err)
		}
		if l.Error != nil {
			return "", nil, fmt.Errorf("go list %s: %s", l.ImportPath, l.Error.Err)
		}
		p := pkg{path: rel(modPath, l.ImportPath), testOnly: len(l.GoFiles)+len(l.CgoFiles) == 0}
		files := slices.Concat(l.GoFiles, l.CgoFiles, l.TestGoFiles, l.XTestGoFiles, l.IgnoredGoFiles)
		for _, name := range files {
			full := filepath.Join(l.Dir, name)
			f, err := parser.ParseFile(fset, full, nil, parser.ImportsOnly)
			if err != nil {
				return "", nil, fmt.Errorf("parse imports of %s: %w", full, err)
			}
			for _, spec := range f.Imports {
				imp, err := strconv.Unquote(spec.Path.Value)
				if err != nil {
					return "", nil, fmt.Errorf("%s: import path %s: %w", fset.Position(spec.Pos()), spec.Path.Value, err)
				}
				if imp != modPath && !strings.HasPrefix(imp, modPath+"/") {
					continue
				}
				relFile, err := filepath.Rel(modDir, full)
				if err != nil {
					return "", nil, fmt.Errorf("locate %s in the module: %w", full, err)
				}
				p.uses = append(p.uses, use{
					path: rel(modPath, imp),
					pos:  fmt.Sprintf("%s:%d", filepath.ToSlash(relFile), fset.Position(spec.Pos()).Line),
					test: strings.HasSuffix(name, "_test.go"),
				})
			}
		}
		pkgs = append(pkgs, p)
	}
	return modPath, pkgs, nil
}

func rel(modPath, importPath string) string {
	if importPath == modPath {
		return "."
	}
	return strings.TrimPrefix(importPath, modPath+"/")
}

// goCmd runs the go command (go test puts its own first on PATH).
func goCmd(dir string, args ...string) (string, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}
