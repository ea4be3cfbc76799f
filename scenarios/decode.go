package scenario

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"

	"github.com/goccy/go-yaml/parser"
	"github.com/replcheck/replcheck/internal/yamltree"
)

// The decoder walks goccy/go-yaml's AST by the scenario types' yaml tags,
// rather than calling yaml.Unmarshal with yaml.Strict(): a strict decode
// stops at the first unknown field or bad value, and a scenario file should
// get every problem reported at once, each with the fields that are allowed
// and the line it is on. The decoder keeps each field's key and value node
// by path ("faults[1].crash.site"), so that checks made after decoding can
// point at the line too.

// entry is a field or list item the file sets: its key (nil for a list
// item) and its value.
type entry struct{ key, value ast.Node }

// decoder decodes one file into a Scenario.
type decoder struct {
	file    string
	anchors map[string]ast.Node
	entries map[string]entry // by path; "" is the document
	bad     map[string]bool  // paths whose value could not be decoded
	unknown map[string]bool  // paths of mappings with unknown fields
	errs    []*Error
	depth   int
}

// maxDepth bounds nesting through aliases; the schema itself is shallow.
const maxDepth = 32

var (
	durationType = reflect.TypeFor[time.Duration]()
	sizeType     = reflect.TypeFor[Size]()
)

// scalars are the types written as one text in a file, with what they
// look like and how they parse.
var scalars = map[reflect.Type]struct {
	want  string
	parse func(string) (int64, error)
}{
	durationType: {"a duration such as \"15s\"", func(t string) (int64, error) {
		d, err := parseDuration(t)
		return int64(d), err
	}},
	sizeType: {"a size such as \"4KiB\" or a number of bytes", func(t string) (int64, error) {
		s, err := ParseSize(t)
		return int64(s), err
	}},
}

// decode parses data into s. It returns false when the file is not YAML
// or holds no scenario at all, and nothing more can be checked.
func (d *decoder) decode(data []byte, s *Scenario) bool {
	d.anchors = map[string]ast.Node{}
	d.entries = map[string]entry{}
	d.bad = map[string]bool{}
	d.unknown = map[string]bool{}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		d.syntaxError(err)
		return false
	}
	var body ast.Node
	for _, doc := range f.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		if body != nil {
			d.errAt(doc.Body, "", "a second YAML document: want one scenario per file")
			return false
		}
		body = doc.Body
	}
	if body == nil {
		d.errs = append(d.errs, &Error{File: d.file, Line: 1, Column: 1,
			Msg: "empty file: want a scenario (name, description, workload, …)"})
		return false
	}
	yamltree.CollectAnchors(body, d.anchors)
	d.entries[""] = entry{value: body}
	d.value("", body, reflect.ValueOf(s).Elem())
	return true
}

// syntaxError records a parse error at its token.
func (d *decoder) syntaxError(err error) {
	e := &Error{File: d.file, Msg: err.Error()}
	var ye yaml.Error
	if errors.As(err, &ye) {
		e.Msg = "malformed YAML: " + ye.GetMessage()
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			e.Line, e.Column = tk.Position.Line, tk.Position.Column
		}
	}
	d.errs = append(d.errs, e)
}

// has reports whether the file sets path to something other than null.
func (d *decoder) has(path string) bool {
	e, ok := d.entries[path]
	if !ok {
		return false
	}
	_, null := e.value.(*ast.NullNode)
	return e.value != nil && !null
}

// where is the position of path in the file, or of its closest ancestor
// the file sets.
func (d *decoder) where(path string) (line, col int) {
	for {
		if e, ok := d.entries[path]; ok {
			return e.pos()
		}
		if path == "" {
			return 1, 1
		}
		path = parentPath(path)
	}
}

// literalBlock reports whether path's value is a literal block scalar (|),
// whose line breaks are kept as written.
func (d *decoder) literalBlock(path string) bool {
	e, ok := d.entries[path]
	if !ok || d.bad[path] {
		return false // (resolving a bad value would report it again)
	}
	n, _ := d.resolve(path, e.value)
	lit, ok := n.(*ast.LiteralNode)
	return ok && lit.Start != nil && strings.HasPrefix(lit.Start.Value, "|")
}

// keyWhere is the position of path's key, for an error about the key
// itself; where if path has none.
func (d *decoder) keyWhere(path string) (line, col int) {
	if e, ok := d.entries[path]; ok && e.key != nil {
		return yamltree.NodePos(e.key)
	}
	return d.where(path)
}

// pos is where an error about the entry points: the value for a scalar,
// the key for a mapping, a list or nothing.
func (e entry) pos() (line, col int) {
	switch e.value.(type) {
	case *ast.MappingNode, *ast.MappingValueNode, *ast.SequenceNode, *ast.NullNode, nil:
		if e.key != nil {
			return yamltree.NodePos(e.key)
		}
	}
	return yamltree.NodePos(e.value)
}

// parentPath drops the last field or index of a path.
func parentPath(p string) string {
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndex(p, "["); i >= 0 {
			return p[:i]
		}
	}
	if i := strings.LastIndex(p, "."); i >= 0 {
		return p[:i]
	}
	return ""
}

func joinPath(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// errAt records an error at node n about path.
func (d *decoder) errAt(n ast.Node, path, format string, args ...any) {
	line, col := yamltree.NodePos(n)
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Column: col, Field: path, Msg: fmt.Sprintf(format, args...)})
}

// badValue records that path's value node n cannot be decoded.
func (d *decoder) badValue(n ast.Node, path, format string, args ...any) {
	d.bad[path] = true
	d.errAt(n, path, format, args...)
}

// resolve looks through anchors, aliases and tags to the node that holds
// the value; str reports a !!str tag. It returns nil after recording an
// error.
func (d *decoder) resolve(path string, n ast.Node) (_ ast.Node, str bool) {
	for range maxDepth {
		switch v := n.(type) {
		case *ast.AnchorNode:
			n = v.Value
		case *ast.AliasNode:
			name := v.Value.GetToken().Value
			target, ok := d.anchors[name]
			if !ok {
				d.badValue(v, path, "alias *%s names no anchor", name)
				return nil, false
			}
			n = target
		case *ast.TagNode:
			if v.Start != nil && v.Start.Value == "!!str" {
				str = true
			}
			n = v.Value
		default:
			return n, str
		}
	}
	d.badValue(n, path, "aliases nested too deep")
	return nil, false
}

// value decodes node n into v, which is at path.
func (d *decoder) value(path string, n ast.Node, v reflect.Value) {
	d.depth++
	defer func() { d.depth-- }()
	if d.depth > maxDepth {
		d.badValue(n, path, "nested too deep")
		return
	}
	n, str := d.resolve(path, n)
	if n == nil {
		return
	}
	if _, ok := n.(*ast.NullNode); ok {
		// A fault kind named with no settings is still that kind.
		if v.Kind() == reflect.Pointer && v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		return
	}
	if sc, ok := scalars[v.Type()]; ok {
		text, ok := scalarText(n)
		if !ok {
			d.badValue(n, path, "want %s, got %s", sc.want, describe(n))
			return
		}
		x, err := sc.parse(text)
		if err != nil {
			d.badValue(n, path, "%v", err)
			return
		}
		v.SetInt(x)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.value(path, n, v.Elem())
	case reflect.Struct:
		d.structure(path, n, v)
	case reflect.Slice:
		d.list(path, n, v)
	case reflect.Map:
		d.mapping(path, n, v)
	case reflect.String:
		if s, ok := stringValue(n, str); ok {
			v.SetString(s)
		} else {
			d.badValue(n, path, "want a string, got %s", describe(n))
		}
	case reflect.Bool:
		if b, ok := n.(*ast.BoolNode); ok && !str {
			v.SetBool(b.Value)
		} else {
			d.badValue(n, path, "want true or false, got %s", describe(n))
		}
	case reflect.Int:
		if i, ok := d.integer(path, n, str, math.MinInt, math.MaxInt); ok {
			v.SetInt(i)
		}
	case reflect.Uint64:
		if i, ok := d.integer(path, n, str, 0, math.MaxInt64); ok {
			v.SetUint(uint64(i))
		}
	case reflect.Float64:
		if str {
			d.badValue(n, path, "want a number, got a string")
			return
		}
		var f float64
		switch x := n.(type) {
		case *ast.IntegerNode:
			i, ok := intValue(x)
			if !ok {
				d.badValue(n, path, "number %s is too large", x.GetToken().Value)
				return
			}
			f = float64(i)
		case *ast.FloatNode:
			f = x.Value
		default:
			d.badValue(n, path, "want a number, got %s", describe(n))
			return
		}
		v.SetFloat(f)
	default:
		panic(fmt.Sprintf("scenario: cannot decode into %v", v.Type()))
	}
}

// integer decodes a whole number between lo and hi.
func (d *decoder) integer(path string, n ast.Node, str bool, lo, hi int64) (int64, bool) {
	x, ok := n.(*ast.IntegerNode)
	if str {
		d.badValue(n, path, "want a whole number, got a string")
		return 0, false
	}
	if !ok {
		if s, isStr := n.(*ast.StringNode); isStr && isDigits(s.Value) {
			d.badValue(n, path, "number %s is too large", s.Value)
		} else {
			d.badValue(n, path, "want a whole number, got %s", describe(n))
		}
		return 0, false
	}
	i, ok := intValue(x)
	switch {
	case !ok || i > hi:
		d.badValue(n, path, "number %s is too large", x.GetToken().Value)
		return 0, false
	case i < lo:
		d.badValue(n, path, "want a number ≥ %d, got %d", lo, i)
		return 0, false
	}
	return i, true
}

// intValue is an integer node's value if it fits an int64.
func intValue(n *ast.IntegerNode) (int64, bool) {
	switch v := n.Value.(type) {
	case int64:
		return v, true
	case uint64:
		if v <= math.MaxInt64 {
			return int64(v), true
		}
	}
	return 0, false
}

func isDigits(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// stringValue is a string scalar's text; with a !!str tag any scalar's.
func stringValue(n ast.Node, str bool) (string, bool) {
	switch v := n.(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.LiteralNode:
		return v.Value.Value, true
	}
	if str {
		return scalarText(n)
	}
	return "", false
}

// scalarText is the source text of a scalar node.
func scalarText(n ast.Node) (string, bool) {
	switch v := n.(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.LiteralNode:
		return v.Value.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		return v.GetToken().Value, true
	}
	return "", false
}

// describe names a node's kind for an error: "a list", "the string \"x\"".
func describe(n ast.Node) string {
	switch v := n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.StringNode:
		return fmt.Sprintf("the string %q", v.Value)
	case *ast.LiteralNode:
		return "a block of text"
	case *ast.IntegerNode, *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "the number " + v.GetToken().Value
	case *ast.BoolNode:
		return fmt.Sprintf("%v", v.Value)
	case *ast.NullNode:
		return "nothing"
	}
	return n.Type().String()
}

// pairs are the entries of a mapping node, or false if n is not one.
func pairs(n ast.Node) ([]*ast.MappingValueNode, bool) {
	switch v := n.(type) {
	case *ast.MappingNode:
		return v.Values, true
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{v}, true
	}
	return nil, false
}

// keyText is a mapping key's text; false for a merge key or a key that is
// not a scalar.
func (d *decoder) keyText(k ast.Node) (string, bool) {
	if mk, ok := k.(*ast.MappingKeyNode); ok {
		k = mk.Value
	}
	if _, ok := k.(*ast.MergeKeyNode); ok {
		return "", false
	}
	k, _ = d.resolve("", k)
	if k == nil {
		return "", false
	}
	return scalarText(k)
}

// field is a struct field the file may set.
type field struct {
	name  string
	index int
}

// fieldsOf lists t's fields by their yaml names, in declaration order.
func fieldsOf(t reflect.Type) []field {
	var out []field
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		out = append(out, field{name, i})
	}
	return out
}

func fieldNames(fs []field) string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.name
	}
	return strings.Join(names, ", ")
}

// structure decodes a mapping into struct v, field by field.
func (d *decoder) structure(path string, n ast.Node, v reflect.Value) {
	fields := fieldsOf(v.Type())
	ps, ok := pairs(n)
	if !ok {
		d.badValue(n, path, "want a mapping (fields: %s), got %s", fieldNames(fields), describe(n))
		return
	}
	for _, mv := range ps {
		name, ok := d.keyText(mv.Key)
		if !ok {
			d.errAt(mv.Key, path, "merge keys (<<) and keys that are not plain names are not supported")
			continue
		}
		at := joinPath(path, name)
		i := -1
		for _, f := range fields {
			if f.name == name {
				i = f.index
			}
		}
		if i < 0 {
			d.unknown[path] = true
			d.errAt(mv.Key, at, "unknown field (known: %s)", fieldNames(fields))
			continue
		}
		d.entries[at] = entry{key: mv.Key, value: mv.Value}
		d.value(at, mv.Value, v.Field(i))
	}
}

// mapping decodes a mapping into map v (string keys).
func (d *decoder) mapping(path string, n ast.Node, v reflect.Value) {
	ps, ok := pairs(n)
	if !ok {
		d.badValue(n, path, "want a mapping, got %s", describe(n))
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	for _, mv := range ps {
		name, ok := d.keyText(mv.Key)
		if !ok {
			d.errAt(mv.Key, path, "merge keys (<<) and keys that are not plain names are not supported")
			continue
		}
		at := joinPath(path, name)
		d.entries[at] = entry{key: mv.Key, value: mv.Value}
		elem := reflect.New(v.Type().Elem()).Elem()
		d.value(at, mv.Value, elem)
		v.SetMapIndex(reflect.ValueOf(name), elem)
	}
}

// list decodes a sequence into slice v.
func (d *decoder) list(path string, n ast.Node, v reflect.Value) {
	seq, ok := n.(*ast.SequenceNode)
	if !ok {
		d.badValue(n, path, "want a list, got %s", describe(n))
		return
	}
	out := reflect.MakeSlice(v.Type(), 0, len(seq.Values))
	for i, x := range seq.Values {
		at := fmt.Sprintf("%s[%d]", path, i)
		d.entries[at] = entry{value: x}
		elem := reflect.New(v.Type().Elem()).Elem()
		d.value(at, x, elem)
		out = reflect.Append(out, elem)
	}
	v.Set(out)
}
