package external_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/harness/external"
	"github.com/replcheck/replcheck/harness/nemesis"
)

// Credentials the tests put in the environment: none of them may show
// up in an error or a description.
const (
	testAccess = "AKIATESTACCESS0001"
	testSecret = "s3cr3t-v4lue-never-shown"
	testSwift  = "sw1ft-k3y-never-shown"
	testUser   = "tenant:operator"
)

func env(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

var fullEnv = env(map[string]string{
	"REPLCHECK_ACCESS_KEY": testAccess, "REPLCHECK_SECRET_KEY": testSecret,
	"SWIFT_KEY": testSwift, "SWIFT_USER": testUser, "EMPTY": "",
})

// good is the example of docs/sites-file.md, less its comments.
const good = `sites:
  - name: europe-se-1a
    s3: https://s3.europe-se-1a.example.com
    s3_non_replicated: https://s3-local.europe-se-1a.example.com
    swift_auth: https://swift.europe-se-1a.example.com/auth/v1.0
    access_key_env: REPLCHECK_ACCESS_KEY
    secret_key_env: REPLCHECK_SECRET_KEY
    swift_user: replcheck:admin
    status_url: http://10.0.0.1:9100/replication/v1/status
  - name: europe-se-1b
    region: eu-north
    s3: http://10.0.1.1:9000
    swift_auth: http://10.0.1.1:9000/auth/v1.0
    access_key_env: REPLCHECK_ACCESS_KEY
    secret_key_env: REPLCHECK_SECRET_KEY
    swift_user_env: SWIFT_USER
    swift_key_env: SWIFT_KEY
links:
  - from: europe-se-1a
    to: europe-se-1b
    toxiproxy: 10.0.2.1:8474
  - from: europe-se-1b
    to: europe-se-1a
    toxiproxy: http://10.0.2.2:8474
    proxy: b-to-a
`

func TestParseGood(t *testing.T) {
	f, err := external.Parse("sites.yaml", []byte(good), fullEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := &external.File{Path: "sites.yaml",
		Sites: []external.SiteSpec{{
			Name: "europe-se-1a", Region: "europe-se-1",
			S3: "https://s3.europe-se-1a.example.com", S3NonReplicated: "https://s3-local.europe-se-1a.example.com",
			SwiftAuth:    "https://swift.europe-se-1a.example.com/auth/v1.0",
			AccessKeyEnv: "REPLCHECK_ACCESS_KEY", SecretKeyEnv: "REPLCHECK_SECRET_KEY",
			SwiftUser: "replcheck:admin", SwiftKeyEnv: "REPLCHECK_SECRET_KEY",
			StatusURL: "http://10.0.0.1:9100/replication/v1/status",
		}, {
			Name: "europe-se-1b", Region: "eu-north", S3: "http://10.0.1.1:9000", SwiftAuth: "http://10.0.1.1:9000/auth/v1.0",
			AccessKeyEnv: "REPLCHECK_ACCESS_KEY", SecretKeyEnv: "REPLCHECK_SECRET_KEY",
			SwiftUserEnv: "SWIFT_USER", SwiftKeyEnv: "SWIFT_KEY",
		}},
		Links: []external.LinkSpec{
			{From: "europe-se-1a", To: "europe-se-1b", Toxiproxy: "10.0.2.1:8474", Proxy: "europe-se-1a-to-europe-se-1b"},
			{From: "europe-se-1b", To: "europe-se-1a", Toxiproxy: "http://10.0.2.2:8474", Proxy: "b-to-a"},
		}}
	if !reflect.DeepEqual(f.Sites, want.Sites) || !reflect.DeepEqual(f.Links, want.Links) || f.Path != want.Path {
		t.Fatalf("parsed\n%#v\n%#v\nwant\n%#v\n%#v", f.Sites, f.Links, want.Sites, want.Links)
	}
	caps := f.Capabilities()
	if !caps[harness.CapPartition] || !caps[harness.CapWANShape] || !caps[harness.CapRepStatus] || caps[harness.CapCrash] {
		t.Errorf("capabilities %v", caps.List())
	}
	if got := f.SiteNames(); !reflect.DeepEqual(got, []string{"europe-se-1a", "europe-se-1b"}) {
		t.Errorf("site names %v", got)
	}

	// Marshal writes what Parse reads back the same.
	data, err := f.Marshal("written by a test\nsecond line")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), "# written by a test\n# second line\nsites:\n") {
		t.Errorf("marshalled:\n%s", data)
	}
	back, err := external.Parse("again.yaml", data, fullEnv)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if !reflect.DeepEqual(back.Sites, f.Sites) || !reflect.DeepEqual(back.Links, f.Links) {
		t.Errorf("round trip differs:\n%s", data)
	}
}

func TestLoadFromDisk(t *testing.T) {
	t.Setenv("REPLCHECK_ACCESS_KEY", testAccess)
	t.Setenv("REPLCHECK_SECRET_KEY", testSecret)
	t.Setenv("SWIFT_KEY", testSwift)
	t.Setenv("SWIFT_USER", testUser)
	path := filepath.Join(t.TempDir(), "sites.yaml")
	os.WriteFile(path, []byte(good), 0o644)
	f, err := external.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Path != path || len(f.Sites) != 2 {
		t.Fatalf("loaded %v", f)
	}
	// WriteFile replaces the file at once and reads back the same.
	out := filepath.Join(t.TempDir(), "out.yaml")
	if err := f.WriteFile(out, "test"); err != nil {
		t.Fatal(err)
	}
	g, err := external.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g.Sites, f.Sites) || !reflect.DeepEqual(g.Links, f.Links) {
		t.Error("WriteFile and Load differ")
	}
	if _, err := external.Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
	t.Setenv("REPLCHECK_SECRET_KEY", "")
	if _, err := external.Load(path); err == nil || !strings.Contains(err.Error(), "environment variable REPLCHECK_SECRET_KEY is empty (site europe-se-1a)") {
		t.Errorf("empty variable: %v", err)
	}
}

// site is a valid site block with its name, for bad-file cases.
func site(name string, extra ...string) string {
	s := "  - name: " + name + "\n    s3: http://127.0.0.1:9000\n    access_key_env: REPLCHECK_ACCESS_KEY\n    secret_key_env: REPLCHECK_SECRET_KEY\n"
	for _, e := range extra {
		s += "    " + e + "\n"
	}
	return s
}

func TestParseErrors(t *testing.T) {
	two := "sites:\n" + site("a1a") + site("a1b")
	for _, tc := range []struct {
		name, src string
		want      []string // every line of the error, in order
	}{
		{"empty", "", []string{"sites.yaml:1:1: empty file: want sites: (two sites) and, optionally, links:"}},
		{"not yaml", "sites: [\n", []string{"sites.yaml:1:8: malformed YAML:"}},
		{"unknown top", two + "link: []\n", []string{"sites.yaml:10:1: link: unknown field (known: sites, links)"}},
		{"one site", "sites:\n" + site("a1a"), []string{"sites.yaml:1:1: sites: want exactly two sites (replication here is between two), have 1"}},
		{"three sites", "sites:\n" + site("a1a") + site("a1b") + site("a1c"), []string{"sites.yaml:1:1: sites: want exactly two sites (replication here is between two), have 3"}},
		{"no sites", "links: []\n", []string{"sites.yaml:1:1: sites: want exactly two sites (replication here is between two), have 0"}},
		{"sites not a list", "sites: {name: a}\n", []string{"sites.yaml:1:8: sites: want a list, got a mapping"}},
		{"unknown site field", "sites:\n" + site("a1a", "s3_url: http://x") + site("a1b"),
			[]string{"sites.yaml:6:5: sites[0].s3_url: unknown field (known: name, region, s3, s3_non_replicated, swift_auth, swift_auth_non_replicated, access_key_env, secret_key_env, swift_user, swift_user_env, swift_key_env, status_url)"}},
		{"duplicate name", "sites:\n" + site("a1a") + site("a1a"), []string{`sites.yaml:6:11: sites[1].name: "a1a" is also the name of sites[0]: names must differ`}},
		{"bad name", "sites:\n" + site("Site_A") + site("a1b"), []string{`sites.yaml:2:11: sites[0].name: "Site_A": want lower-case letters, digits and '-'`}},
		{"missing name and s3", "sites:\n  - access_key_env: A\n    secret_key_env: B\n" + site("a1b"), []string{
			"sites.yaml:2:5: sites[0].name: required: the site's name",
			"sites.yaml:2:5: sites[0].s3: required: the S3 URL of the replicated endpoint",
			"sites.yaml:2:21: sites[0].access_key_env: environment variable A is not set (site )",
			"sites.yaml:3:21: sites[0].secret_key_env: environment variable B is not set (site )"}},
		{"bad URL scheme", "sites:\n" + site("a1a", "s3_non_replicated: ftp://host") + site("a1b"),
			[]string{`sites.yaml:6:24: sites[0].s3_non_replicated: not an http:// or https:// URL`}},
		{"URL with a path", strings.Replace(two, "s3: http://127.0.0.1:9000", "s3: http://127.0.0.1:9000/s3", 1),
			[]string{`sites.yaml:3:9: sites[0].s3: "http://127.0.0.1:9000/s3": an S3 endpoint is served at the root of its host: no path or query`}},
		{"URL without host", strings.Replace(two, "s3: http://127.0.0.1:9000", "s3: 127.0.0.1:9000", 1),
			[]string{`sites.yaml:3:9: sites[0].s3: not a URL: want http://host:port or https://host`}},
		{"URL bad port", strings.Replace(two, "s3: http://127.0.0.1:9000", "s3: http://127.0.0.1:99999", 1),
			[]string{`sites.yaml:3:9: sites[0].s3: "http://127.0.0.1:99999": port "99999": want a number from 1 to 65535`}},
		{"s3 not a string", strings.Replace(two, "s3: http://127.0.0.1:9000", "s3: 9000", 1),
			[]string{`sites.yaml:3:9: sites[0].s3: want a string, got a number (quote it)`}},
		{"unset variable", strings.Replace(two, "secret_key_env: REPLCHECK_SECRET_KEY", "secret_key_env: MY_SECRET", 1),
			[]string{"sites.yaml:5:21: sites[0].secret_key_env: environment variable MY_SECRET is not set (site a1a): export it; the sites file only names it"}},
		{"empty variable", strings.Replace(two, "access_key_env: REPLCHECK_ACCESS_KEY", "access_key_env: EMPTY", 1),
			[]string{"sites.yaml:4:21: sites[0].access_key_env: environment variable EMPTY is empty (site a1a)"}},
		{"missing variable field", "sites:\n  - name: a1a\n    s3: http://h:1\n    access_key_env: REPLCHECK_ACCESS_KEY\n" + site("a1b"),
			[]string{"sites.yaml:2:5: sites[0].secret_key_env: required: the NAME of the environment variable that holds the credential (e.g. REPLCHECK_SECRET_KEY), never the credential itself"}},
		{"swift without user", "sites:\n" + site("a1a", "swift_auth: http://h:1/auth/v1.0") + site("a1b"),
			[]string{"sites.yaml:2:5: sites[0].swift_user: required with a Swift auth URL"}},
		{"swift user and env", "sites:\n" + site("a1a", "swift_auth: http://h:1/auth/v1.0", "swift_user: a:b", "swift_user_env: SWIFT_USER") + site("a1b"),
			[]string{"sites.yaml:8:21: sites[0].swift_user_env: give swift_user or swift_user_env, not both"}},
		{"bad swift user", "sites:\n" + site("a1a", "swift_auth: http://h:1/auth/v1.0", "swift_user: admin") + site("a1b"),
			[]string{"sites.yaml:7:17: sites[0].swift_user: want account:user, e.g. replcheck:admin"}},
		{"swift key without swift", "sites:\n" + site("a1a", "swift_key_env: SWIFT_KEY") + site("a1b"),
			[]string{"sites.yaml:6:20: sites[0].swift_key_env: is for Swift, and this site gives no swift_auth"}},
		{"link to nowhere", two + "links:\n  - from: a1a\n    to: a1x\n    toxiproxy: 127.0.0.1:8474\n",
			[]string{`sites.yaml:12:9: links[0].to: "a1x" is not a site of this file (sites: a1a, a1b)`}},
		{"link to itself", two + "links:\n  - from: a1a\n    to: a1a\n    toxiproxy: 127.0.0.1:8474\n",
			[]string{`sites.yaml:12:9: links[0].to: the same site as from: a link joins two sites`}},
		{"link twice", two + "links:\n  - {from: a1a, to: a1b, toxiproxy: 127.0.0.1:8474}\n  - {from: a1a, to: a1b, toxiproxy: 127.0.0.1:8475}\n",
			[]string{`sites.yaml:12:5: links[1]: a second link a1a → a1b (links[0] is the first): one per direction`}},
		{"link bad control", two + "links:\n  - {from: a1a, to: a1b, toxiproxy: localhost}\n",
			[]string{`sites.yaml:11:37: links[0].toxiproxy: "localhost": want host:port, e.g. 127.0.0.1:8474`}},
		{"link bad proxy", two + "links:\n  - {from: a1a, to: a1b, toxiproxy: 'h:1', proxy: 'a/b'}\n",
			[]string{`sites.yaml:11:51: links[0].proxy: "a/b": a toxiproxy name holds only letters, digits, '.', '_' and '-'`}},
		{"link without toxiproxy", two + "links:\n  - {from: a1a, to: a1b}\n",
			[]string{`sites.yaml:11:5: links[0].toxiproxy: required: the toxiproxy control API, host:port`}},
		{"duplicate key", "sites:\n  - name: a1a\n    name: a1b\n", []string{"sites.yaml:3:5: malformed YAML:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := external.Parse("sites.yaml", []byte(tc.src), fullEnv)
			if err == nil {
				t.Fatalf("no error for\n%s", tc.src)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tc.want) {
				t.Fatalf("%d errors, want %d:\n%v", len(lines), len(tc.want), err)
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("error %d:\n got %s\nwant %s…", i, lines[i], w)
				}
			}
			var e *external.Error
			if !errors.As(err, &e) || e.Line == 0 || e.File != "sites.yaml" {
				t.Errorf("not an *external.Error with a line: %#v", err)
			}
		})
	}
}

// TestSecretsNeverShown puts credentials where names belong and in URLs,
// and checks that no error repeats them, nor any description of a file
// or an opened site.
func TestSecretsNeverShown(t *testing.T) {
	const pasted = "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY" // a valid variable name, but a key
	for _, src := range []string{
		strings.Replace(good, "secret_key_env: REPLCHECK_SECRET_KEY", "secret_key_env: "+pasted, 1),
		strings.Replace(good, "secret_key_env: REPLCHECK_SECRET_KEY", "secret_key_env: "+testSecret, 1),
		strings.Replace(good, "secret_key_env: REPLCHECK_SECRET_KEY", "secret_key_env: 'x/"+testSecret+"'", 1),
		strings.Replace(good, "s3: http://10.0.1.1:9000", "s3: http://user:"+testSecret+"@10.0.1.1:9000", 1),
		strings.Replace(good, "status_url: http://10.0.0.1:9100/replication/v1/status", "status_url: http://10.0.0.1:99999/status?token="+testSecret, 1),
		strings.Replace(good, "s3: http://10.0.1.1:9000", "s3: "+testSecret, 1),
		strings.Replace(good, "swift_key_env: SWIFT_KEY", "swift_key_env: 12345", 1),
	} {
		_, err := external.Parse("sites.yaml", []byte(src), env(map[string]string{
			"REPLCHECK_ACCESS_KEY": testAccess, "REPLCHECK_SECRET_KEY": testSecret, "SWIFT_KEY": testSwift, "SWIFT_USER": testUser}))
		if err == nil {
			t.Fatalf("no error for\n%s", src)
		}
		for _, s := range []string{testSecret, pasted, testSwift} {
			if strings.Contains(err.Error(), s) {
				t.Errorf("error shows a secret: %v", err)
			}
		}
		if !strings.Contains(err.Error(), "sites.yaml:") {
			t.Errorf("error without file and line: %v", err)
		}
	}

	f, err := external.Parse("sites.yaml", []byte(good), fullEnv)
	if err != nil {
		t.Fatal(err)
	}
	described := fmt.Sprintf("%v %+v %#v %s", f, f, f, f)
	for _, s := range []string{testSecret, testSwift} {
		if strings.Contains(described, s) {
			t.Errorf("description shows a secret: %s", described)
		}
	}
}

func TestCheckTimeline(t *testing.T) {
	src := "sites:\n" + site("a1a", "status_url: http://h:1/status") + site("a1b") +
		"links:\n  - {from: a1a, to: a1b, toxiproxy: 'h:1'}\n"
	f, err := external.Parse("sites.yaml", []byte(src), fullEnv)
	if err != nil {
		t.Fatal(err)
	}
	step := func(fault nemesis.Fault) nemesis.Timeline {
		return nemesis.Timeline{{At: 0, For: 1e9, Fault: fault}}
	}
	if err := f.CheckTimeline(step(nemesis.Partition{From: "a1a", To: "a1b", Mode: 1})); err != nil {
		t.Errorf("partition a1a→a1b: %v", err)
	}
	for fault, want := range map[nemesis.Fault]string{
		&nemesis.SiteCrash{Site: "a1b"}:                                    "target external cannot crash",
		&nemesis.SitePause{Site: "a1b"}:                                    "target external cannot pause",
		nemesis.ClockSkew{Site: "a1b", Skew: 1e9}:                          "target external cannot clock-skew",
		nemesis.Partition{From: "a1b", To: "a1a", Mode: 1}:                 "no WAN link a1b → a1a in sites file sites.yaml",
		nemesis.WANShape{From: "a1a", To: "a1b", Both: true, Latency: 1e6}: "no WAN link a1b → a1a",
	} {
		if err := f.CheckTimeline(step(fault)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", fault.Name(), err, want)
		}
	}
	// Without links, no WAN fault at all.
	g, _ := external.Parse("sites.yaml", []byte("sites:\n"+site("a1a")+site("a1b")), fullEnv)
	if err := g.CheckTimeline(step(nemesis.Partition{From: "a1a", To: "a1b", Mode: 1})); err == nil ||
		!strings.Contains(err.Error(), "target external cannot partition") {
		t.Errorf("partition without links: %v", err)
	}
	if caps := g.Capabilities(); len(caps.List()) != 0 {
		t.Errorf("capabilities without links or status: %v", caps.List())
	}
}

func TestValidateInCode(t *testing.T) {
	f := &external.File{Sites: []external.SiteSpec{{Name: "a1a", S3: "http://h:1", AccessKeyEnv: "A", SecretKeyEnv: "B"}}}
	f.SetDefaults()
	err := f.Validate()
	if err == nil || err.Error() != "sites: want exactly two sites (replication here is between two), have 1" {
		t.Fatalf("in code: %v", err)
	}
	if _, err := f.Marshal(""); err == nil {
		t.Error("Marshal wrote an invalid file")
	}
}

// TestDocsExample keeps the full example of docs/sites-file.md valid.
func TestDocsExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/sites-file.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```yaml\n")
	example, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("no yaml block in docs/sites-file.md")
	}
	f, err := external.Parse("docs/sites-file.md", []byte(example), fullEnv)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Links) != 2 || f.Links[1].Proxy != "europe-se-1b-to-europe-se-1a" || f.Sites[1].Region != "europe-se-1" ||
		f.Sites[1].SwiftKeyEnv != "REPLCHECK_SECRET_KEY" {
		t.Errorf("example read as %+v %+v", f.Sites, f.Links)
	}
}

// TestMarshalQuotes writes values YAML would read as something else.
func TestMarshalQuotes(t *testing.T) {
	f := &external.File{Sites: []external.SiteSpec{
		{Name: "1", Region: "true", S3: "http://h:1", AccessKeyEnv: "A", SecretKeyEnv: "B"},
		{Name: "2", Region: "0x10", S3: "http://h:2", AccessKeyEnv: "A", SecretKeyEnv: "B"},
	}, Links: []external.LinkSpec{{From: "1", To: "2", Toxiproxy: "h:3", Proxy: "null"}}}
	f.SetDefaults()
	data, err := f.Marshal("")
	if err != nil {
		t.Fatal(err)
	}
	g, err := external.Parse("q.yaml", data, env(map[string]string{"A": "a", "B": "b"}))
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if !reflect.DeepEqual(g.Sites, f.Sites) || !reflect.DeepEqual(g.Links, f.Links) {
		t.Errorf("round trip differs:\n%s", data)
	}
}
