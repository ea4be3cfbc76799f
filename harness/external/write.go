package external

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Marshal renders f as a sites file that Parse reads back to the same
// File, with comment (if any) as a comment block at the top. It checks f
// first (Validate), so a File with a problem is never written.
func (f *File) Marshal(comment string) ([]byte, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	for line := range strings.SplitSeq(strings.TrimRight(comment, "\n"), "\n") {
		if comment == "" {
			break
		}
		b.WriteString(strings.TrimRight("# "+line, " ") + "\n")
	}
	field := func(indent, name, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%s%s: %s\n", indent, name, yamlString(v))
		}
	}
	b.WriteString("sites:\n")
	for _, s := range f.Sites {
		fmt.Fprintf(&b, "  - name: %s\n", yamlString(s.Name))
		const in = "    "
		field(in, "region", s.Region)
		field(in, "s3", s.S3)
		field(in, "s3_non_replicated", s.S3NonReplicated)
		field(in, "swift_auth", s.SwiftAuth)
		field(in, "swift_auth_non_replicated", s.SwiftAuthNonReplicated)
		field(in, "access_key_env", s.AccessKeyEnv)
		field(in, "secret_key_env", s.SecretKeyEnv)
		field(in, "swift_user", s.SwiftUser)
		field(in, "swift_user_env", s.SwiftUserEnv)
		field(in, "swift_key_env", s.SwiftKeyEnv)
		field(in, "status_url", s.StatusURL)
	}
	if len(f.Links) > 0 {
		b.WriteString("links:\n")
		for _, l := range f.Links {
			fmt.Fprintf(&b, "  - from: %s\n", yamlString(l.From))
			field("    ", "to", l.To)
			field("    ", "toxiproxy", l.Toxiproxy)
			field("    ", "proxy", l.Proxy)
		}
	}
	return b.Bytes(), nil
}

// WriteFile writes f (Marshal) to path, replacing any file there at once:
// a reader never sees half a file.
func (f *File) WriteFile(path, comment string) error {
	data, err := f.Marshal(comment)
	if err != nil {
		return fmt.Errorf("write sites file %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write sites file: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename, a no-op
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write sites file %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write sites file %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write sites file %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write sites file: %w", err)
	}
	return nil
}

var plainRE = regexp.MustCompile(`^[A-Za-z0-9/._-][A-Za-z0-9/._:@-]*$`)

// yamlString is v as a YAML scalar that reads back as the string v:
// plain when the YAML parser reads it so (not as a number, a boolean, a
// null, …), else double-quoted (Go's escapes are a subset of YAML's).
func yamlString(v string) string {
	if plainRE.MatchString(v) {
		if af, err := parser.ParseBytes([]byte("k: "+v+"\n"), 0); err == nil && len(af.Docs) == 1 {
			var mv *ast.MappingValueNode
			switch b := af.Docs[0].Body.(type) {
			case *ast.MappingValueNode:
				mv = b
			case *ast.MappingNode:
				if len(b.Values) == 1 {
					mv = b.Values[0]
				}
			}
			if mv != nil {
				if sn, ok := mv.Value.(*ast.StringNode); ok && sn.Value == v {
					return v
				}
			}
		}
	}
	return strconv.Quote(v)
}
