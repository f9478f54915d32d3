package route

import (
	"strings"

	"github.com/hotpath/hotpath/config"
)

// Edits are a route's compiled headers: section. Names in the drop lists
// are lower case; a set field's name is dropped too (the gateway's value
// replaces the one received).
type Edits struct {
	ReqDrop  []string
	ReqAdd   []Field
	RespDrop []string
	RespAdd  []Field
	NeedID   bool // a value uses ${request_id}
}

// Field is a field to add: its name and its value's parts.
type Field struct {
	Name  string
	Parts []FieldPart
}

// FieldPart is a literal, or a variable the engine renders per request.
type FieldPart struct {
	Lit string
	Var Var
}

// Var is a variable of a header value template.
type Var uint8

const (
	VarNone      Var = iota // Lit
	VarClientIP             // ${client_ip}
	VarRoute                // ${route}
	VarRequestID            // ${request_id}
)

// compileEdits compiles the headers: section h of the route at path p.
func compileEdits(cfg *config.Config, p string, h *config.HeaderRules, errs *config.Errors) Edits {
	var e Edits
	if h == nil {
		return e
	}
	side := func(path string, he *config.HeaderEdit, drop *[]string, add *[]Field) {
		if he == nil {
			return
		}
		for _, n := range he.Remove {
			*drop = append(*drop, strings.ToLower(n))
		}
		for _, kind := range []struct {
			name string
			m    map[string]string
			set  bool
		}{{"set", he.Set, true}, {"add", he.Add, false}} {
			for _, n := range config.SortedKeys(kind.m) {
				if kind.set {
					*drop = append(*drop, strings.ToLower(n))
				}
				parts, err := config.ParseTemplate(kind.m[n])
				if err != nil {
					*errs = append(*errs, cfg.Errorf(path+"."+kind.name+"."+n, err.Error()))
					continue
				}
				f := Field{Name: n}
				for _, tp := range parts {
					v := VarNone
					switch tp.Var {
					case "client_ip":
						v = VarClientIP
					case "route":
						v = VarRoute
					case "request_id":
						v = VarRequestID
						e.NeedID = true
					}
					f.Parts = append(f.Parts, FieldPart{Lit: tp.Lit, Var: v})
				}
				*add = append(*add, f)
			}
		}
	}
	side(p+".headers.request", h.Request, &e.ReqDrop, &e.ReqAdd)
	side(p+".headers.response", h.Response, &e.RespDrop, &e.RespAdd)
	return e
}
