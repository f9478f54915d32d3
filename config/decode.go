package config

import (
	"bytes"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

// Load reads, decodes and validates the file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data)
}

// Default returns the embedded default configuration, validated.
func Default() *Config {
	c, err := Parse("<default>", defaultYAML)
	if err != nil {
		panic("config: embedded default is invalid: " + err.Error())
	}
	return c
}

// Parse decodes and validates data; source names it in messages. The error,
// when not nil, is an Errors listing every problem found.
func Parse(source string, data []byte) (*Config, error) {
	c, errs := Check(source, data)
	if len(errs) > 0 {
		return nil, errs
	}
	return c, nil
}

// Check is Parse for hotpath -check: it returns every problem found and the
// config as decoded even when there are some (with defaults where a field
// failed), so that the caller can look further, for example at the files
// it names. The config is nil only when data is not YAML. Never run a
// config that has problems.
func Check(source string, data []byte) (*Config, Errors) {
	c := &Config{Source: source, Text: bytes.Clone(data), lines: map[string]int{}}
	c.setDefaults()
	d := decoder{cfg: c}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, Errors{syntaxError(source, data, err)}
	}
	if len(root.Content) > 0 {
		d.decode(root.Content[0], reflect.ValueOf(c).Elem(), "")
	}
	for i := range c.Listeners {
		if p := fmt.Sprintf("listeners[%d].workers", i); c.lines[p] > 0 {
			c.deprecations = append(c.deprecations, &FieldError{Source: source, Line: c.lines[p], Path: p,
				Msg: "warning: deprecated: write the top-level workers instead (the old spelling works until the next release)"})
		}
	}
	// Validate even after decode errors so that one run reports every
	// problem; skip validation messages about fields that failed to decode.
	errs := d.errs
	failed := map[string]bool{}
	for _, e := range d.errs {
		failed[e.Path] = true
	}
	for _, e := range c.validate() {
		if !failed[e.Path] {
			errs = append(errs, e)
		}
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
	c.AccessLog.Redacted = c.redactedParams()
	return c, errs
}

// decoder maps a yaml.Node tree onto Go values by their `yaml` tags,
// recording the line of every field and collecting every error.
type decoder struct {
	cfg  *Config
	errs Errors
}

var (
	durationType = reflect.TypeOf(time.Duration(0))
	sizeType     = reflect.TypeOf(Size(0))
)

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	d.errs = append(d.errs, &FieldError{Source: d.cfg.Source, Line: n.Line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if path != "" {
		d.cfg.lines[path] = n.Line
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // "field:" with no value keeps the default
	}
	if v.Type() == durationType {
		d.duration(n, v, path)
		return
	}
	if v.Type() == sizeType {
		sz, err := ParseSize(n.Value)
		if n.Kind != yaml.ScalarNode || err != nil {
			d.fail(n, path, "want a size such as 1048576, 512k or 256MiB, got %s", kindName(n))
			return
		}
		v.SetInt(int64(sz))
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
			if df, ok := v.Interface().(defaulter); ok {
				df.setDefaults()
			}
		}
		d.decode(n, v.Elem(), path)
	case reflect.Struct:
		d.structure(n, v, path)
	case reflect.Slice:
		d.sequence(n, v, path)
	case reflect.Map:
		d.mapping(n, v, path)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.fail(n, path, "want a string, got %s", kindName(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Int:
		i, err := strconv.Atoi(n.Value)
		if n.Kind != yaml.ScalarNode || err != nil {
			d.fail(n, path, "want an integer, got %q", n.Value)
			return
		}
		v.SetInt(int64(i))
	case reflect.Float64:
		f, err := strconv.ParseFloat(n.Value, 64)
		if n.Kind != yaml.ScalarNode || err != nil {
			d.fail(n, path, "want a number, got %q", n.Value)
			return
		}
		v.SetFloat(f)
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil {
			d.fail(n, path, "want true or false, got %q", n.Value)
			return
		}
		v.SetBool(b)
	default:
		panic("config: unsupported field kind " + v.Kind().String())
	}
}

func (d *decoder) duration(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "want a duration such as \"30s\", got %s", kindName(n))
		return
	}
	if n.Value == "0" {
		v.SetInt(0)
		return
	}
	dur, err := time.ParseDuration(n.Value)
	if err != nil {
		d.fail(n, path, "want a duration such as \"30s\" or \"750ms\", got %q", n.Value)
		return
	}
	if dur < 0 {
		d.fail(n, path, "must not be negative")
		return
	}
	v.SetInt(int64(dur))
}

func (d *decoder) structure(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "want a mapping, got %s", kindName(n))
		return
	}
	t := v.Type()
	seen := map[int]string{} // field index -> the key that set it
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		f, name, ok := fieldByKey(t, key.Value)
		if !ok {
			d.fail(key, join(path, key.Value), "unknown field (known: %s)", knownFields(t))
			continue
		}
		fpath := join(path, name)
		if prev, dup := seen[f]; dup {
			if prev == key.Value {
				d.fail(key, join(path, key.Value), "duplicate field")
			} else {
				d.fail(key, join(path, key.Value), "duplicate field (%s is %s's old name; keep %s)", oldName(t, f), name, name)
			}
			continue
		}
		seen[f] = key.Value
		if key.Value != name {
			// Decode errors name the field as written; the checks after
			// decoding name it by its current name, at the same line.
			d.deprecated(key, join(path, key.Value), fmt.Sprintf("write %s instead", name))
			d.cfg.lines[fpath] = val.Line
			fpath = join(path, key.Value)
		}
		d.decode(val, v.Field(f), fpath)
	}
}

// deprecated records a warning for an old spelling at n: it still works
// for one release, and Config.Warnings lists it (hotpath -check prints it,
// the gateway logs it at start and reload).
func (d *decoder) deprecated(n *yaml.Node, path, advice string) {
	d.cfg.deprecations = append(d.cfg.deprecations, &FieldError{Source: d.cfg.Source, Line: n.Line, Path: path,
		Msg: "warning: deprecated: " + advice + " (the old spelling works until the next release)"})
}

func (d *decoder) sequence(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, "want a list, got %s", kindName(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		e := s.Index(i)
		if df, ok := e.Addr().Interface().(defaulter); ok {
			df.setDefaults()
		}
		d.decode(item, e, fmt.Sprintf("%s[%d]", path, i))
	}
	v.Set(s)
}

func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "want a mapping, got %s", kindName(n))
		return
	}
	m := reflect.MakeMap(v.Type())
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		e := reflect.New(v.Type().Elem()).Elem()
		d.decode(val, e, join(path, key.Value))
		m.SetMapIndex(reflect.ValueOf(key.Value), e)
	}
	v.Set(m)
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// fieldByKey returns the index of t's field whose yaml tag is key, or
// whose old tag (a deprecated spelling: `old:"max_head"`) is, with the
// field's current name.
func fieldByKey(t reflect.Type, key string) (int, string, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if tag := f.Tag.Get("yaml"); tag == key && tag != "-" {
			return i, tag, true
		}
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if old := f.Tag.Get("old"); old != "" && old == key {
			return i, f.Tag.Get("yaml"), true
		}
	}
	return 0, "", false
}

// oldName is the deprecated spelling of t's field f.
func oldName(t reflect.Type, f int) string { return t.Field(f).Tag.Get("old") }

func knownFields(t reflect.Type) string {
	var names []string
	for i := 0; i < t.NumField(); i++ {
		if tag := t.Field(i).Tag.Get("yaml"); tag != "" && tag != "-" {
			names = append(names, tag)
		}
	}
	return strings.Join(names, ", ")
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return strconv.Quote(n.Value)
	}
}
