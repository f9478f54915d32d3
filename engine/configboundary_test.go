package engine

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// configReaders are the engine's functions that may read config types:
// they compile a config into a table or compare configs at New, Check,
// Reload and Start, never per request or per connection. A function whose
// name starts with "compile" may too.
var configReaders = map[string]bool{
	"New": true, "Check": true, "Reload": true, "Config": true, "joinConfigErrors": true,
	"sameListeners": true, "sameProtocols": true, "reusable": true,
	"Start": true, "initObs": true, "reload": true, "install": true, "start": true,
	"listenerTLS": true, "TLSWarnings": true, "serverOptions": true, "clientOptions": true,
	"tlsLoadErrors": true, "errorAt": true, "GlobalLimits": true,
}

// configFields are the fields of config types the engine keeps, each read
// only by configReaders: the config a table was compiled from, and what
// the observer and the fleet need at reload.
var configFields = map[string]bool{
	"table.cfg": true, "routePolicy.rlGlobal": true, "observer.alogCfg": true,
	"observer.started": true, "GlobalLimit.Config": true,
}

// TestRequestPathReadsNoConfig: config types are compiled into the table
// (table.go) and read only while compiling or reloading. Other functions
// name no config type, and the engine's types hold none beyond
// configFields, so a request reads compiled fields only.
func TestRequestPathReadsNoConfig(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	fset := token.NewFileSet()
	var bad []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				if d.Body == nil || configReaders[d.Name.Name] || strings.HasPrefix(d.Name.Name, "compile") {
					continue
				}
				ast.Inspect(d.Body, func(n ast.Node) bool {
					sel, ok := n.(*ast.SelectorExpr)
					if !ok {
						return true
					}
					x, isIdent := sel.X.(*ast.Ident)
					if isIdent && x.Name == "config" || sel.Sel.Name == "cfg" || sel.Sel.Name == "rlGlobal" || sel.Sel.Name == "alogCfg" {
						bad = append(bad, fset.Position(sel.Pos()).String()+": "+d.Name.Name+" reads config")
					}
					return true
				})
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					ts, ok := spec.(*ast.TypeSpec)
					if !ok {
						continue
					}
					st, ok := ts.Type.(*ast.StructType)
					if !ok {
						continue
					}
					for _, fld := range st.Fields.List {
						if !mentionsConfig(fld.Type) {
							continue
						}
						for _, n := range fld.Names {
							if !configFields[ts.Name.Name+"."+n.Name] {
								bad = append(bad, fset.Position(n.Pos()).String()+": "+ts.Name.Name+"."+n.Name+" holds a config type")
							}
						}
					}
				}
			}
		}
	}
	sort.Strings(bad)
	for _, b := range bad {
		t.Error(b)
	}
}

// mentionsConfig reports whether a type expression names package config.
func mentionsConfig(e ast.Expr) bool {
	found := false
	ast.Inspect(e, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if x, ok := sel.X.(*ast.Ident); ok && x.Name == "config" {
				found = true
			}
		}
		return !found
	})
	return found
}
