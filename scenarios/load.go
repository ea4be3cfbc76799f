package scenario

import (
	"cmp"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/replcheck/replcheck/internal/yamltree"
)

// Embedded is the scenario library, compiled into the binary.
//
//go:embed *.yaml
var Embedded embed.FS

// Error is one problem with the file, where it is in the file:
// "file:line:col: field: message".
type Error = yamltree.Error

// Parse decodes and validates a scenario file's contents; name is the
// file's name for errors (and Scenario.File). Fields the file leaves out
// get their defaults. The error, if any, joins an *Error for every problem
// found, ordered by line.
func Parse(name string, data []byte) (*Scenario, error) {
	return parse(name, data, "")
}

// Load reads and parses the scenario file at path, whose name must match
// the scenario's ("partition-heal.yaml" holds name: partition-heal).
func Load(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parse(path, data, stem(path))
}

// stem is a file's base name without its extension.
func stem(p string) string {
	base := filepath.Base(p)
	return strings.TrimSuffix(base, filepath.Ext(base))
}

// parse is Parse; wantName, if set, is the name the scenario must have.
func parse(file string, data []byte, wantName string) (*Scenario, error) {
	s := &Scenario{}
	d := &decoder{file: file}
	if d.decode(data, s) {
		s.File = file
		c := &validation{s: s, src: d, file: file, wantName: wantName}
		c.defaults()
		c.check()
		d.errs = append(d.errs, c.errs...)
	}
	if len(d.errs) > 0 {
		return nil, joinErrors(d.errs)
	}
	return s, nil
}

// SetDefaults fills the fields s leaves at zero with their defaults, as
// Parse does for the fields a file leaves out: for a scenario built in
// code, before Validate.
func (s *Scenario) SetDefaults() {
	(&validation{s: s}).defaults()
}

// Validate checks a scenario built or changed in code, as Parse checks a
// file, without changing it (zero fields are not defaults here: call
// SetDefaults first). Errors have no line.
func (s *Scenario) Validate() error {
	c := &validation{s: s, file: s.File}
	c.check()
	return joinErrors(c.errs)
}

// joinErrors orders errs by position (keeping the order of equal ones)
// and joins them; nil if there are none.
func joinErrors(errs []*Error) error {
	if len(errs) == 0 {
		return nil
	}
	slices.SortStableFunc(errs, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e
	}
	return errors.Join(out...)
}

// List loads every *.yaml file in dir, in name order. It returns the
// scenarios that loaded, and the errors of those that did not.
func List(dir string) ([]*Scenario, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	var out []*Scenario
	var errs []error
	for _, f := range files {
		s, err := Load(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, s)
	}
	return out, errors.Join(errs...)
}

// Library parses every scenario of the embedded library, in name order.
func Library() ([]*Scenario, error) {
	files, err := fs.Glob(Embedded, "*.yaml")
	if err != nil {
		return nil, err
	}
	var out []*Scenario
	var errs []error
	for _, f := range files {
		data, err := fs.ReadFile(Embedded, f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s, err := parse(f, data, strings.TrimSuffix(path.Base(f), ".yaml"))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, s)
	}
	return out, errors.Join(errs...)
}

// Find returns the library scenario called name (a trailing ".yaml" is
// allowed); the error for an unknown name lists the library.
func Find(name string) (*Scenario, error) {
	name = strings.TrimSuffix(name, ".yaml")
	lib, err := Library()
	for _, s := range lib {
		if s.Name == name {
			return s, nil
		}
	}
	if err != nil {
		return nil, err
	}
	names := make([]string, len(lib))
	for i, s := range lib {
		names[i] = s.Name
	}
	return nil, fmt.Errorf("no scenario %q in the library (known: %s)", name, strings.Join(names, ", "))
}
