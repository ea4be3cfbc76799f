package external

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"

	"github.com/goccy/go-yaml/parser"
	"github.com/replcheck/replcheck/internal/yamltree"
)

// The decoder walks goccy/go-yaml's AST by the yaml tags of File's
// types, strictly (unknown fields, wrong types and duplicate keys are
// errors), and reports every problem at once with its line, as the
// scenario loader does. It keeps each field's position by path so that
// the checks made after decoding point at the line too.

// fileBody is the document's shape.
type fileBody struct {
	Sites []SiteSpec `yaml:"sites"`
	Links []LinkSpec `yaml:"links"`
}

type decoder struct {
	file    string
	anchors map[string]ast.Node
	pos     map[string][2]int
	bad     map[string]bool // paths whose value could not be decoded
	errs    []*Error
	depth   int
}

// decode parses data; nil when it is not YAML or holds nothing.
func (d *decoder) decode(data []byte) *File {
	d.anchors = map[string]ast.Node{}
	af, err := parser.ParseBytes(data, 0)
	if err != nil {
		e := &Error{File: d.file, Msg: "malformed YAML: " + err.Error()}
		var ye yaml.Error
		if errors.As(err, &ye) {
			e.Msg = "malformed YAML: " + ye.GetMessage()
			if tk := ye.GetToken(); tk != nil && tk.Position != nil {
				e.Line, e.Column = tk.Position.Line, tk.Position.Column
			}
		}
		d.errs = append(d.errs, e)
		return nil
	}
	var body ast.Node
	for _, doc := range af.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		if body != nil {
			d.errAt(doc.Body, "", "a second YAML document: want one sites file per file")
			return nil
		}
		body = doc.Body
	}
	if body == nil {
		d.errs = append(d.errs, &Error{File: d.file, Line: 1, Column: 1, Msg: "empty file: want sites: (two sites) and, optionally, links:"})
		return nil
	}
	yamltree.CollectAnchors(body, d.anchors)
	var fb fileBody
	d.pos[""] = nodePos(body)
	d.value("", body, reflect.ValueOf(&fb).Elem())
	return &File{Sites: fb.Sites, Links: fb.Links}
}

func (d *decoder) errAt(n ast.Node, path, format string, a ...any) {
	d.bad[path] = true
	p := nodePos(n)
	d.errs = append(d.errs, &Error{File: d.file, Line: p[0], Column: p[1], Field: path, Msg: fmt.Sprintf(format, a...)})
}

// nodePos is where a node starts in the file.
func nodePos(n ast.Node) [2]int {
	line, col := yamltree.NodePos(n)
	return [2]int{line, col}
}

// resolve looks through anchors, aliases and tags; nil after an error.
func (d *decoder) resolve(path string, n ast.Node) ast.Node {
	for range 32 {
		switch v := n.(type) {
		case *ast.AnchorNode:
			n = v.Value
		case *ast.AliasNode:
			name := v.Value.GetToken().Value
			t, ok := d.anchors[name]
			if !ok {
				d.errAt(v, path, "alias *%s names no anchor", name)
				return nil
			}
			n = t
		case *ast.TagNode:
			n = v.Value
		default:
			return n
		}
	}
	d.errAt(n, path, "aliases nested too deep")
	return nil
}

// value decodes n into v (a struct, a slice of structs or a string).
func (d *decoder) value(path string, n ast.Node, v reflect.Value) {
	d.depth++
	defer func() { d.depth-- }()
	if d.depth > 32 {
		d.errAt(n, path, "nested too deep")
		return
	}
	if n = d.resolve(path, n); n == nil {
		return
	}
	if _, null := n.(*ast.NullNode); null {
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.structure(path, n, v)
	case reflect.Slice:
		seq, ok := n.(*ast.SequenceNode)
		if !ok {
			d.errAt(n, path, "want a list, got %s", describe(n))
			return
		}
		out := reflect.MakeSlice(v.Type(), 0, len(seq.Values))
		for i, x := range seq.Values {
			at := fmt.Sprintf("%s[%d]", path, i)
			d.pos[at] = nodePos(x)
			elem := reflect.New(v.Type().Elem()).Elem()
			d.value(at, x, elem)
			out = reflect.Append(out, elem)
		}
		v.Set(out)
	case reflect.String:
		s, ok := n.(*ast.StringNode)
		if !ok {
			d.errAt(n, path, "want a string, got %s (quote it)", describe(n))
			return
		}
		v.SetString(s.Value)
	default:
		panic(fmt.Sprintf("external: cannot decode into %v", v.Type()))
	}
}

// structure decodes a mapping into struct v, field by field.
func (d *decoder) structure(path string, n ast.Node, v reflect.Value) {
	var names []string
	index := map[string]int{}
	for i := range v.NumField() {
		name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			names = append(names, name)
			index[name] = i
		}
	}
	var pairs []*ast.MappingValueNode
	switch m := n.(type) {
	case *ast.MappingNode:
		pairs = m.Values
	case *ast.MappingValueNode:
		pairs = []*ast.MappingValueNode{m}
	default:
		d.errAt(n, path, "want a mapping (fields: %s), got %s", strings.Join(names, ", "), describe(n))
		return
	}
	for _, mv := range pairs {
		var k ast.Node = mv.Key
		if mk, ok := k.(*ast.MappingKeyNode); ok {
			k = mk.Value
		}
		ks, ok := d.resolve(path, k).(*ast.StringNode)
		if !ok {
			p := nodePos(mv.Key)
			d.errs = append(d.errs, &Error{File: d.file, Line: p[0], Column: p[1], Field: path,
				Msg: fmt.Sprintf("keys must be plain field names (fields: %s)", strings.Join(names, ", "))})
			continue
		}
		at := ks.Value
		if path != "" {
			at = path + "." + ks.Value
		}
		i, known := index[ks.Value]
		if !known {
			d.errAt(mv.Key, at, "unknown field (known: %s)", strings.Join(names, ", "))
			continue
		}
		// An error about a scalar points at its value, about anything
		// else at its key.
		switch mv.Value.(type) {
		case *ast.MappingNode, *ast.SequenceNode, *ast.NullNode, nil:
			d.pos[at] = nodePos(mv.Key)
		default:
			d.pos[at] = nodePos(mv.Value)
		}
		d.value(at, mv.Value, v.Field(i))
	}
}

// describe names a node's kind for an error. It never shows a scalar's
// text: a misplaced credential would be repeated.
func describe(n ast.Node) string {
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.StringNode:
		return "a string"
	case *ast.LiteralNode:
		return "a block of text"
	case *ast.IntegerNode, *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "a number"
	case *ast.BoolNode:
		return "true or false"
	}
	return n.Type().String()
}
