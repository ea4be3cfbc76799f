package external

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/replcheck/replcheck/engine/site"
	"github.com/replcheck/replcheck/internal/yamltree"
)

// File is a sites file: the two sites of a deployment and, optionally,
// the WAN proxies between them. It holds the names of the environment
// variables that carry credentials, never their values.
type File struct {
	// Path is where the file was read from (the name given to Parse); ""
	// for a File built in code.
	Path  string
	Sites []SiteSpec
	Links []LinkSpec

	// lookup reads the environment (os.LookupEnv unless Parse was given
	// another); Open reads credentials through it.
	lookup func(string) (string, bool)
	// pos is where each field is in the file, by path ("sites[1].s3");
	// bad holds the paths already reported as undecodable.
	pos map[string][2]int
	bad map[string]bool
}

// SiteSpec is one site of a sites file. The *Env fields name environment
// variables; the file never holds a credential.
type SiteSpec struct {
	Name   string `yaml:"name"`   // required, [a-z0-9-]
	Region string `yaml:"region"` // default: the name without its zone letter
	// S3 is the base URL of the replicated endpoint's S3 API (required);
	// S3NonReplicated that of the non-replicated endpoint, if any.
	S3              string `yaml:"s3"`
	S3NonReplicated string `yaml:"s3_non_replicated"`
	// SwiftAuth is the TempAuth v1 URL of the replicated endpoint, if it
	// speaks Swift; SwiftAuthNonReplicated that of the non-replicated one.
	SwiftAuth              string `yaml:"swift_auth"`
	SwiftAuthNonReplicated string `yaml:"swift_auth_non_replicated"`
	AccessKeyEnv           string `yaml:"access_key_env"` // required
	SecretKeyEnv           string `yaml:"secret_key_env"` // required
	// SwiftUser ("account:user") or SwiftUserEnv, the variable holding
	// it: one of them with a Swift auth URL.
	SwiftUser    string `yaml:"swift_user"`
	SwiftUserEnv string `yaml:"swift_user_env"`
	// SwiftKeyEnv names the variable of the Swift key; default
	// SecretKeyEnv (with a Swift auth URL).
	SwiftKeyEnv string `yaml:"swift_key_env"`
	// StatusURL, if set, serves the engine's own replication status as
	// JSON with pendingOperations, pendingBytes and inSync.
	StatusURL string `yaml:"status_url"`
}

// Swift reports whether the site gives a Swift endpoint.
func (s SiteSpec) Swift() bool { return s.SwiftAuth != "" || s.SwiftAuthNonReplicated != "" }

// LinkSpec is the WAN proxy that carries replication From → To: a proxy
// on a toxiproxy server.
type LinkSpec struct {
	From string `yaml:"from"`
	To   string `yaml:"to"`
	// Toxiproxy is the server's control API, host:port or an http(s) URL.
	Toxiproxy string `yaml:"toxiproxy"`
	// Proxy is the proxy's name there; default "<from>-to-<to>".
	Proxy string `yaml:"proxy"`
}

// Error is one problem with the file, where it is in the file:
// "file:line:col: field: message".
type Error = yamltree.Error

// Load reads and checks the sites file at path, reading the environment
// variables it names (each must be set and not empty). The error, if any,
// joins an *Error for every problem found, ordered by line.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sites file: %w", err)
	}
	return Parse(path, data, os.LookupEnv)
}

// Parse decodes and checks a sites file's contents; name is the file's
// name for errors. lookup reads the environment (nil: os.LookupEnv); Open
// reads the credentials through it too. Fields the file leaves out get
// their defaults.
func Parse(name string, data []byte, lookup func(string) (string, bool)) (*File, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	d := &decoder{file: name, pos: map[string][2]int{}, bad: map[string]bool{}}
	f := d.decode(data)
	if f == nil {
		return nil, joinErrors(d.errs)
	}
	f.Path, f.lookup, f.pos, f.bad = name, lookup, d.pos, d.bad
	f.SetDefaults()
	errs := append(d.errs, f.check(true)...)
	if len(errs) > 0 {
		return nil, joinErrors(errs)
	}
	return f, nil
}

// SetDefaults fills the fields f leaves empty with their defaults, as
// Parse does: a site's region, Swift key variable and a link's proxy name.
func (f *File) SetDefaults() {
	for i := range f.Sites {
		s := &f.Sites[i]
		if s.Region == "" && s.Name != "" {
			s.Region = site.DefaultRegion(s.Name)
		}
		if s.SwiftKeyEnv == "" && s.Swift() {
			s.SwiftKeyEnv = s.SecretKeyEnv
		}
	}
	for i := range f.Links {
		l := &f.Links[i]
		if l.Proxy == "" && l.From != "" && l.To != "" {
			l.Proxy = l.From + "-to-" + l.To
		}
	}
}

// Validate checks a File built or changed in code as Parse checks a file,
// except for the environment: it does not read the variables. Call
// SetDefaults first.
func (f *File) Validate() error {
	return joinErrors(f.check(false))
}

// Site returns the site called name.
func (f *File) Site(name string) (SiteSpec, bool) {
	i := slices.IndexFunc(f.Sites, func(s SiteSpec) bool { return s.Name == name })
	if i < 0 {
		return SiteSpec{}, false
	}
	return f.Sites[i], true
}

// SiteNames are the sites' names in file order.
func (f *File) SiteNames() []string {
	out := make([]string, len(f.Sites))
	for i, s := range f.Sites {
		out[i] = s.Name
	}
	return out
}

// String names the file and its sites, for logs.
func (f *File) String() string {
	return fmt.Sprintf("sites file %s (sites %s, %d WAN links)", cmp.Or(f.Path, "(in code)"), strings.Join(f.SiteNames(), ", "), len(f.Links))
}

var (
	nameRE   = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
	regionRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$`)
	envRE    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	proxyRE  = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
)

// checker collects the problems of a File, each at its field's place.
type checker struct {
	f    *File
	errs []*Error
}

func (c *checker) errf(path, format string, a ...any) {
	for p := path; ; p = parentPath(p) {
		if c.f.bad[p] {
			return // reported when decoding
		}
		if p == "" {
			break
		}
	}
	line, col := c.f.where(path)
	c.errs = append(c.errs, &Error{File: c.f.Path, Line: line, Column: col, Field: path, Msg: fmt.Sprintf(format, a...)})
}

// where is the position of path in the file, or of its closest ancestor
// the file sets; 0, 0 for a File built in code.
func (f *File) where(path string) (line, col int) {
	for {
		if p, ok := f.pos[path]; ok {
			return p[0], p[1]
		}
		if path == "" {
			return 0, 0
		}
		path = parentPath(path)
	}
}

// check validates f; with env, the environment variables it names must
// be set.
func (f *File) check(env bool) []*Error {
	c := &checker{f: f}
	if len(f.Sites) != 2 {
		c.errf("sites", "want exactly two sites (replication here is between two), have %d", len(f.Sites))
	}
	seen := map[string]int{}
	for i, s := range f.Sites {
		at := fmt.Sprintf("sites[%d]", i)
		switch {
		case s.Name == "":
			c.errf(at+".name", "required: the site's name, e.g. europe-se-1a")
		case !nameRE.MatchString(s.Name) || len(s.Name) > 63:
			c.errf(at+".name", "%q: want lower-case letters, digits and '-' (e.g. europe-se-1a), at most 63", s.Name)
		default:
			if j, ok := seen[s.Name]; ok {
				c.errf(at+".name", "%q is also the name of sites[%d]: names must differ", s.Name, j)
			}
			seen[s.Name] = i
		}
		if s.Region != "" && !regionRE.MatchString(s.Region) {
			c.errf(at+".region", "%q: want letters, digits, '.', '_' and '-' (e.g. europe-se-1)", s.Region)
		}
		if s.S3 == "" {
			c.errf(at+".s3", "required: the S3 URL of the replicated endpoint, e.g. https://s3.europe-se-1a.example.com")
		} else {
			c.url(at+".s3", s.S3, false)
		}
		if s.S3NonReplicated != "" {
			c.url(at+".s3_non_replicated", s.S3NonReplicated, false)
		}
		if s.SwiftAuth != "" {
			c.url(at+".swift_auth", s.SwiftAuth, true)
		}
		if s.SwiftAuthNonReplicated != "" {
			c.url(at+".swift_auth_non_replicated", s.SwiftAuthNonReplicated, true)
		}
		if s.StatusURL != "" {
			c.url(at+".status_url", s.StatusURL, true)
		}
		c.env(at+".access_key_env", s.AccessKeyEnv, s.Name, true, env)
		c.env(at+".secret_key_env", s.SecretKeyEnv, s.Name, true, env)
		switch {
		case !s.Swift():
			for _, fv := range [][2]string{{"swift_user", s.SwiftUser}, {"swift_user_env", s.SwiftUserEnv}, {"swift_key_env", s.SwiftKeyEnv}} {
				if fv[1] != "" {
					c.errf(at+"."+fv[0], "is for Swift, and this site gives no swift_auth or swift_auth_non_replicated")
				}
			}
		case s.SwiftUser != "" && s.SwiftUserEnv != "":
			c.errf(at+".swift_user_env", "give swift_user or swift_user_env, not both")
		case s.SwiftUser == "" && s.SwiftUserEnv == "":
			c.errf(at+".swift_user", "required with a Swift auth URL: the Swift user as account:user (e.g. replcheck:admin), or swift_user_env naming the variable that holds it")
		default:
			if s.SwiftUser != "" {
				if a, u, ok := strings.Cut(s.SwiftUser, ":"); !ok || a == "" || u == "" || strings.ContainsAny(s.SwiftUser, " \t\r\n") {
					c.errf(at+".swift_user", "want account:user, e.g. replcheck:admin")
				}
			} else {
				c.env(at+".swift_user_env", s.SwiftUserEnv, s.Name, true, env)
			}
			// SetDefaults makes it secret_key_env; a File built in code
			// may not have called it.
			c.env(at+".swift_key_env", s.SwiftKeyEnv, s.Name, s.SwiftKeyEnv != "" || s.SecretKeyEnv == "", env)
		}
	}
	dirs := map[[2]string]int{}
	for i, l := range f.Links {
		at := fmt.Sprintf("links[%d]", i)
		ok := true
		for _, fv := range [][2]string{{"from", l.From}, {"to", l.To}} {
			field, v := fv[0], fv[1]
			switch {
			case v == "":
				c.errf(at+"."+field, "required: a site name (%s)", strings.Join(f.SiteNames(), ", "))
				ok = false
			case !slices.Contains(f.SiteNames(), v):
				c.errf(at+"."+field, "%q is not a site of this file (sites: %s)", v, strings.Join(f.SiteNames(), ", "))
				ok = false
			}
		}
		if ok {
			d := [2]string{l.From, l.To}
			if l.From == l.To {
				c.errf(at+".to", "the same site as from: a link joins two sites")
			} else if j, dup := dirs[d]; dup {
				c.errf(at, "a second link %s → %s (links[%d] is the first): one per direction", l.From, l.To, j)
			}
			dirs[d] = i
		}
		if l.Toxiproxy == "" {
			c.errf(at+".toxiproxy", "required: the toxiproxy control API, host:port (e.g. 127.0.0.1:8474)")
		} else {
			c.control(at+".toxiproxy", l.Toxiproxy)
		}
		if l.Proxy == "" {
			if l.From == "" || l.To == "" {
				c.errf(at+".proxy", "required: the proxy's name on the toxiproxy server")
			}
		} else if !proxyRE.MatchString(l.Proxy) {
			c.errf(at+".proxy", "%q: a toxiproxy name holds only letters, digits, '.', '_' and '-'", l.Proxy)
		}
	}
	return c.errs
}

// url checks an http(s) URL; withPath allows a path and a query (Swift
// auth, status), which an S3 base URL must not have. Errors quote the URL
// without its query (which might carry a token), and not at all when it
// holds user information.
func (c *checker) url(path, raw string, withPath bool) {
	u, err := url.Parse(raw)
	if err != nil {
		c.errf(path, "not a URL: want http://host:port or https://host")
		return
	}
	if u.User != nil {
		c.errf(path, "the URL holds user information (user:password@): credentials never go in a sites file; name their environment variables in access_key_env and secret_key_env")
		return
	}
	shown := strconv.Quote(showURL(u))
	switch {
	// Without an http(s) scheme and a host the text may not be a URL at
	// all (a key pasted in the wrong field): it is not repeated.
	case u.Scheme != "http" && u.Scheme != "https":
		c.errf(path, "not an http:// or https:// URL (e.g. https://s3.example.com or http://127.0.0.1:9000)")
	case u.Host == "" || u.Opaque != "":
		c.errf(path, "no host: want http://host:port or https://host")
	case u.Fragment != "":
		c.errf(path, "%s: a URL with a #fragment", shown)
	case !withPath && ((u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery):
		c.errf(path, "%s: an S3 endpoint is served at the root of its host: no path or query", shown)
	default:
		if _, port, err := net.SplitHostPort(u.Host); err == nil {
			if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
				c.errf(path, "%s: port %q: want a number from 1 to 65535", shown, port)
			}
		}
	}
}

// showURL is u for messages: without user information or query.
func showURL(u *url.URL) string {
	v := *u
	v.User = nil
	if v.RawQuery != "" || v.ForceQuery {
		v.RawQuery, v.ForceQuery = "…", false
	}
	return v.String()
}

// control checks a toxiproxy control address: host:port or an http(s)
// URL with no path.
func (c *checker) control(path, raw string) {
	hostport := raw
	if strings.Contains(raw, "://") {
		u, err := url.Parse(raw)
		if err != nil || u.User != nil || (u.Scheme != "http" && u.Scheme != "https") || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			c.errf(path, "want host:port or http://host:port (no user information, path or query)")
			return
		}
		if u.Port() == "" {
			return
		}
		hostport = u.Host
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil || host == "" {
		c.errf(path, "%q: want host:port, e.g. 127.0.0.1:8474", raw)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		c.errf(path, "%q: port %q: want a number from 1 to 65535", raw, port)
	}
}

// env checks a field that names an environment variable; with read, the
// variable must be set and not empty. Its value is never shown, and
// neither is a "name" that looks like a credential pasted by mistake.
func (c *checker) env(path, name, siteName string, required, read bool) {
	field := path[strings.LastIndex(path, ".")+1:]
	switch {
	case name == "":
		if required {
			c.errf(path, "required: the NAME of the environment variable that holds the credential (e.g. REPLCHECK_%s), never the credential itself",
				strings.ToUpper(strings.TrimSuffix(field, "_env")))
		}
		return
	case !envRE.MatchString(name):
		c.errf(path, "want the NAME of an environment variable (letters, digits and '_', not starting with a digit), not a credential; the value is not shown")
		return
	}
	if !read {
		return
	}
	v, ok := c.f.lookup(name)
	shown := "environment variable " + showEnv(name)
	switch {
	case !ok:
		c.errf(path, "%s is not set (site %s): export it; the sites file only names it", shown, siteName)
	case v == "":
		c.errf(path, "%s is empty (site %s)", shown, siteName)
	}
}

// showEnv is an environment variable's name as errors show it: a long
// mixed-case name without '_' looks like a key pasted where its
// variable's name belongs, and is not repeated.
func showEnv(name string) string {
	if len(name) >= 16 && !strings.Contains(name, "_") && strings.ToUpper(name) != name {
		return "(named in the file; not repeated here, as it looks like a credential rather than a variable name)"
	}
	return name
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

// joinErrors orders errs by position and joins them; nil if none.
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
