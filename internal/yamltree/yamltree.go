// Package yamltree holds what the project's YAML files (scenarios, sites
// files) share when they are decoded from goccy/go-yaml's syntax tree,
// so that every problem is reported with its file, line, column and
// field: the error type, where a node starts, and the anchors a file
// defines.
package yamltree

import (
	"fmt"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// Error is one problem with a file, where it is in the file.
type Error struct {
	File string // the path given to Load, the name given to Parse
	// Line and Column are 1-based; 0 for a value built in code.
	Line, Column int
	// Field is the path of the field, e.g. "workload.mix.put" or
	// "sites[1].s3"; "" for a file that is not YAML.
	Field string
	Msg   string // what is wrong, and what is allowed
}

// Error is "file:line:col: field: message", leaving out what is unknown.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d:%d", e.Line, e.Column)
		}
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// NodePos is where a node starts in the file (1, 1 when unknown).
func NodePos(n ast.Node) (line, col int) {
	switch v := n.(type) {
	case nil:
		return 1, 1
	case *ast.MappingNode:
		// A block mapping's token is its first ':'; its first key is
		// where it starts.
		if !v.IsFlowStyle && len(v.Values) > 0 {
			return NodePos(v.Values[0])
		}
	case *ast.MappingValueNode:
		return NodePos(v.Key)
	case *ast.MappingKeyNode:
		if v.Start == nil {
			return NodePos(v.Value)
		}
	}
	tk := n.GetToken()
	if tk == nil || tk.Position == nil {
		return 1, 1
	}
	return tk.Position.Line, tk.Position.Column
}

// CollectAnchors records in anchors the node each anchor under n names.
func CollectAnchors(n ast.Node, anchors map[string]ast.Node) {
	switch v := n.(type) {
	case *ast.AnchorNode:
		if v.Name != nil {
			anchors[v.Name.GetToken().Value] = v.Value
		}
		CollectAnchors(v.Value, anchors)
	case *ast.MappingNode:
		for _, mv := range v.Values {
			CollectAnchors(mv, anchors)
		}
	case *ast.MappingValueNode:
		CollectAnchors(v.Key, anchors)
		CollectAnchors(v.Value, anchors)
	case *ast.SequenceNode:
		for _, x := range v.Values {
			CollectAnchors(x, anchors)
		}
	case *ast.TagNode:
		CollectAnchors(v.Value, anchors)
	}
}
