package site_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/replcheck/replcheck/engine/site"
)

// The interop tests drive a site with the command-line clients people use
// against real object stores. Each needs its tool on PATH and says how to
// install it when it is missing (.ci/run installs all of them).

// cli runs external clients against a site with a private, throw-away
// configuration: HOME and every config path point into a temp dir, so the
// user's own profiles and credentials are never read.
type cli struct {
	t    *testing.T
	s    *site.Site
	home string
	env  []string
}

func newCLI(t *testing.T, tool, pkg string) *cli {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Skipf("%s not installed (Debian package %s; .ci/run installs it)", tool, pkg)
	}
	s := startSite(t, site.Config{})
	home := t.TempDir()
	// Tools installed under pyenv find their interpreter through PYENV_ROOT,
	// which defaults to the real HOME that the tests replace.
	pyenv := os.Getenv("PYENV_ROOT")
	if h, err := os.UserHomeDir(); pyenv == "" && err == nil {
		pyenv = filepath.Join(h, ".pyenv")
	}
	u := s.Users()[0]
	env := []string{
		"HOME=" + home,
		"PATH=" + os.Getenv("PATH"),
		"LANG=C.UTF-8",
		"PYENV_ROOT=" + pyenv,
		"NO_PROXY=*", "no_proxy=*",
		"AWS_ACCESS_KEY_ID=" + u.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + u.SecretKey,
		"AWS_DEFAULT_REGION=" + s.Region(),
		"AWS_CONFIG_FILE=" + filepath.Join(home, "aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "aws-credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_PAGER=",
		"RCLONE_CONFIG=" + filepath.Join(home, "rclone.conf"),
		"RCLONE_CONFIG_RC_TYPE=s3",
		"RCLONE_CONFIG_RC_PROVIDER=Other",
		"RCLONE_CONFIG_RC_ENDPOINT=" + s.URL(true),
		"RCLONE_CONFIG_RC_ACCESS_KEY_ID=" + u.AccessKey,
		"RCLONE_CONFIG_RC_SECRET_ACCESS_KEY=" + u.SecretKey,
		"RCLONE_CONFIG_RC_REGION=" + s.Region(),
		"RCLONE_CONFIG_SW_TYPE=swift",
		"RCLONE_CONFIG_SW_AUTH=" + s.SwiftAuthURL(true),
		"RCLONE_CONFIG_SW_USER=" + u.Account + ":" + u.Name,
		"RCLONE_CONFIG_SW_KEY=" + u.SecretKey,
		"ST_AUTH=" + s.SwiftAuthURL(true),
		"ST_USER=" + u.Account + ":" + u.Name,
		"ST_KEY=" + u.SecretKey,
	}
	return &cli{t: t, s: s, home: home, env: env}
}

// run runs a command and fails the test if it fails.
func (c *cli) run(name string, args ...string) string {
	c.t.Helper()
	out, err := c.try(name, args...)
	if err != nil {
		c.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// try runs a command and returns its combined output and error.
func (c *cli) try(name string, args ...string) (string, error) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = c.env
	cmd.Dir = c.home
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// file writes n random bytes to a file in the temp home and returns its path.
func (c *cli) file(name string, n int) (string, []byte) {
	c.t.Helper()
	data := make([]byte, n)
	rand.Read(data)
	p := filepath.Join(c.home, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		c.t.Fatal(err)
	}
	return p, data
}

func (c *cli) sameFile(path string, want []byte) {
	c.t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		c.t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		c.t.Fatalf("%s: %d bytes differ from the %d bytes written", path, len(got), len(want))
	}
}

func mustContain(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Fatalf("output lacks %q:\n%s", w, out)
		}
	}
}

// allOnPath returns every distinct installation of tool on PATH: awscli v1
// (pip, pyenv) and v2 (Debian) differ in the requests they make.
func allOnPath(tool string) []string {
	var out []string
	seen := map[string]bool{}
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		p := filepath.Join(dir, tool)
		if st, err := os.Stat(p); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			continue
		}
		real, err := filepath.EvalSymlinks(p)
		if err != nil || seen[real] {
			continue
		}
		seen[real] = true
		out = append(out, p)
	}
	return out
}

func TestInteropAWSCLI(t *testing.T) {
	paths := allOnPath("aws")
	if len(paths) == 0 {
		newCLI(t, "aws", "awscli") // skips with the reason
	}
	for _, p := range paths {
		t.Run(p, func(t *testing.T) { testAWSCLI(t, p) })
	}
}

func testAWSCLI(t *testing.T, awsBin string) {
	c := newCLI(t, "aws", "awscli")
	t.Log(c.run(awsBin, "--version"))
	ep := []string{"--endpoint-url", c.s.URL(true), "--region", c.s.Region()}
	aws := func(args ...string) string { return c.run(awsBin, append(ep, args...)...) }

	aws("s3api", "create-bucket", "--bucket", "interop",
		"--create-bucket-configuration", "LocationConstraint="+c.s.Region()+":gp.recurring")
	out, err := c.try(awsBin, append(ep, "s3api", "create-bucket", "--bucket", "refused",
		"--create-bucket-configuration", "LocationConstraint="+c.s.Region()+":standard")...)
	if err == nil {
		t.Fatalf("replicated endpoint accepted policy standard:\n%s", out)
	}
	mustContain(t, out, "InvalidLocationConstraint", "standard")

	// 20 MiB goes up as a multipart upload (awscli's threshold is 8 MiB).
	big, data := c.file("big.bin", 20<<20)
	aws("s3", "cp", big, "s3://interop/dir/big.bin")
	aws("s3", "cp", "s3://interop/dir/big.bin", filepath.Join(c.home, "big.out"))
	c.sameFile(filepath.Join(c.home, "big.out"), data)
	head := aws("s3api", "head-object", "--bucket", "interop", "--key", "dir/big.bin")
	mustContain(t, head, `-3\"`) // multipart ETag form: 8 MiB parts

	small, sdata := c.file("small name+odd.txt", 1000)
	aws("s3", "cp", small, "s3://interop/odd key + ü.txt", "--metadata", "color=blue")
	aws("s3", "cp", "s3://interop/odd key + ü.txt", filepath.Join(c.home, "small.out"))
	c.sameFile(filepath.Join(c.home, "small.out"), sdata)
	mustContain(t, aws("s3api", "head-object", "--bucket", "interop", "--key", "odd key + ü.txt"), `"color": "blue"`)
	mustContain(t, aws("s3", "ls", "s3://interop/", "--recursive"), "dir/big.bin", "odd key + ü.txt")

	// Ranged read.
	aws("s3api", "get-object", "--bucket", "interop", "--key", "dir/big.bin", "--range", "bytes=100-199", filepath.Join(c.home, "range.out"))
	c.sameFile(filepath.Join(c.home, "range.out"), data[100:200])

	// SSE-S3, SSE-KMS and SSE-C, each written multipart and read back.
	aws("s3", "cp", big, "s3://interop/sse-s3.bin", "--sse", "AES256")
	mustContain(t, aws("s3api", "head-object", "--bucket", "interop", "--key", "sse-s3.bin"), `"ServerSideEncryption": "AES256"`)
	aws("s3", "cp", big, "s3://interop/sse-kms.bin", "--sse", "aws:kms")
	mustContain(t, aws("s3api", "head-object", "--bucket", "interop", "--key", "sse-kms.bin"), `"ServerSideEncryption": "aws:kms"`)
	key := "0123456789abcdef0123456789abcdef"
	aws("s3", "cp", big, "s3://interop/sse-c.bin", "--sse-c", "AES256", "--sse-c-key", key)
	for _, k := range []string{"sse-s3.bin", "sse-kms.bin"} {
		aws("s3", "cp", "s3://interop/"+k, filepath.Join(c.home, k))
		c.sameFile(filepath.Join(c.home, k), data)
	}
	aws("s3", "cp", "s3://interop/sse-c.bin", filepath.Join(c.home, "sse-c.out"), "--sse-c", "AES256", "--sse-c-key", key)
	c.sameFile(filepath.Join(c.home, "sse-c.out"), data)
	aws("s3api", "get-object", "--bucket", "interop", "--key", "sse-c.bin", "--range", "bytes=9000000-9000099",
		"--sse-customer-algorithm", "AES256", "--sse-customer-key", key, filepath.Join(c.home, "sse-c-range.out"))
	c.sameFile(filepath.Join(c.home, "sse-c-range.out"), data[9000000:9000100])
	out, err = c.try(awsBin, append(ep, "s3", "cp", "s3://interop/sse-c.bin", filepath.Join(c.home, "x"),
		"--sse-c", "AES256", "--sse-c-key", "fedcba9876543210fedcba9876543210")...)
	if err == nil {
		t.Fatalf("SSE-C read with the wrong key succeeded:\n%s", out)
	}

	// Versioning.
	aws("s3api", "put-bucket-versioning", "--bucket", "interop", "--versioning-configuration", "Status=Enabled")
	aws("s3", "cp", small, "s3://interop/v.txt")
	aws("s3", "cp", big, "s3://interop/v.txt")
	aws("s3", "rm", "s3://interop/v.txt")
	vers := aws("s3api", "list-object-versions", "--bucket", "interop", "--prefix", "v.txt")
	if n := strings.Count(vers, `"VersionId"`); n != 3 {
		t.Fatalf("want 2 versions and 1 delete marker, got %d entries:\n%s", n, vers)
	}
	mustContain(t, vers, "DeleteMarkers")

	// Copy and delete.
	aws("s3", "cp", "s3://interop/dir/big.bin", "s3://interop/copy.bin")
	aws("s3", "cp", "s3://interop/copy.bin", filepath.Join(c.home, "copy.out"))
	c.sameFile(filepath.Join(c.home, "copy.out"), data)
	aws("s3api", "delete-objects", "--bucket", "interop", "--delete", `{"Objects":[{"Key":"copy.bin"},{"Key":"dir/big.bin"}]}`)
	if strings.Contains(aws("s3", "ls", "s3://interop/", "--recursive"), "copy.bin") {
		t.Fatal("copy.bin still listed after delete-objects")
	}
}

func TestInteropRclone(t *testing.T) {
	c := newCLI(t, "rclone", "rclone")
	src := filepath.Join(c.home, "src")
	os.MkdirAll(filepath.Join(src, "sub dir"), 0o755)
	files := map[string][]byte{}
	for i, n := range []int{0, 1, 70000, 12 << 20} {
		name := filepath.Join(src, fmt.Sprintf("f%d.bin", i))
		if i%2 == 1 {
			name = filepath.Join(src, "sub dir", fmt.Sprintf("f%d ü.bin", i))
		}
		data := make([]byte, n)
		rand.Read(data)
		os.WriteFile(name, data, 0o644)
		files[name] = data
	}
	c.run("rclone", "mkdir", "rc:rclone-bucket")
	c.run("rclone", "copy", "--s3-chunk-size", "5M", "--s3-upload-cutoff", "5M", src, "rc:rclone-bucket/data")
	// rclone check compares sizes and hashes of both sides.
	c.run("rclone", "check", src, "rc:rclone-bucket/data")
	// The same objects through Swift: one namespace.
	c.run("rclone", "check", "--size-only", src, "sw:rclone-bucket/data")
	dst := filepath.Join(c.home, "dst")
	c.run("rclone", "copy", "sw:rclone-bucket/data", dst)
	c.run("rclone", "check", src, dst)
	c.run("rclone", "delete", "rc:rclone-bucket")
	c.run("rclone", "rmdir", "rc:rclone-bucket")
	if out := c.run("rclone", "lsd", "rc:"); strings.Contains(out, "rclone-bucket") {
		t.Fatalf("bucket still listed:\n%s", out)
	}
}

func TestInteropS3cmd(t *testing.T) {
	c := newCLI(t, "s3cmd", "s3cmd")
	u := c.s.Users()[0]
	host := strings.TrimPrefix(c.s.URL(true), "http://")
	cfg := filepath.Join(c.home, "s3cfg")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`[default]
access_key = %s
secret_key = %s
host_base = %s
host_bucket = %s
bucket_location = %s
use_https = False
signature_v2 = False
`, u.AccessKey, u.SecretKey, host, host, c.s.Region())), 0o600)
	s3cmd := func(args ...string) string { return c.run("s3cmd", append([]string{"-c", cfg}, args...)...) }
	s3cmd("mb", "s3://s3cmd-bucket")
	big, data := c.file("big.bin", 20<<20) // above s3cmd's 15 MiB multipart chunk
	s3cmd("put", big, "s3://s3cmd-bucket/big.bin")
	s3cmd("put", "--server-side-encryption", big, "s3://s3cmd-bucket/enc.bin")
	s3cmd("get", "s3://s3cmd-bucket/big.bin", filepath.Join(c.home, "big.out"))
	c.sameFile(filepath.Join(c.home, "big.out"), data)
	s3cmd("get", "s3://s3cmd-bucket/enc.bin", filepath.Join(c.home, "enc.out"))
	c.sameFile(filepath.Join(c.home, "enc.out"), data)
	mustContain(t, s3cmd("ls", "s3://s3cmd-bucket"), "big.bin", "enc.bin")
	mustContain(t, s3cmd("info", "s3://s3cmd-bucket/enc.bin"), "SSE")
	s3cmd("del", "s3://s3cmd-bucket/big.bin", "s3://s3cmd-bucket/enc.bin")
	s3cmd("rb", "s3://s3cmd-bucket")
}

func TestInteropSwiftCLI(t *testing.T) {
	c := newCLI(t, "swift", "python3-swiftclient")
	c.run("swift", "post", "--header", "X-Storage-Policy: gp.recurring", "swift-bucket")
	mustContain(t, c.run("swift", "stat", "swift-bucket"), "gp.recurring")
	out, err := c.try("swift", "post", "--header", "X-Storage-Policy: archive.cold", "refused")
	if err == nil {
		t.Fatalf("replicated endpoint accepted archive.cold:\n%s", out)
	}
	// The non-replicated endpoint offers every policy.
	c.run("swift", "-A", c.s.SwiftAuthURL(false), "post", "--header", "X-Storage-Policy: archive.cold", "local-bucket")

	big, data := c.file("big.bin", 7<<20)
	c.run("swift", "upload", "--object-name", "dir/big.bin", "-H", "X-Object-Meta-Color: red", "swift-bucket", big)
	c.run("swift", "download", "-o", filepath.Join(c.home, "big.out"), "swift-bucket", "dir/big.bin")
	c.sameFile(filepath.Join(c.home, "big.out"), data)
	mustContain(t, c.run("swift", "stat", "swift-bucket", "dir/big.bin"), "Color: red")
	mustContain(t, c.run("swift", "list", "swift-bucket"), "dir/big.bin")
	c.run("swift", "post", "-m", "Color:green", "swift-bucket", "dir/big.bin")
	mustContain(t, c.run("swift", "stat", "swift-bucket", "dir/big.bin"), "Color: green")
	c.run("swift", "copy", "-d", "/swift-bucket/copied.bin", "swift-bucket", "dir/big.bin")
	c.run("swift", "download", "-o", filepath.Join(c.home, "copy.out"), "swift-bucket", "copied.bin")
	c.sameFile(filepath.Join(c.home, "copy.out"), data)
	c.run("swift", "delete", "swift-bucket")
	if strings.Contains(c.run("swift", "list"), "swift-bucket") {
		t.Fatal("container still listed after delete")
	}
}

// TestInteropCrossTool writes with one client and reads with another over
// the other API: the namespace and the metadata are shared.
func TestInteropCrossTool(t *testing.T) {
	c := newCLI(t, "aws", "awscli")
	if _, err := exec.LookPath("swift"); err != nil {
		t.Skip("swift not installed (Debian package python3-swiftclient; .ci/run installs it)")
	}
	ep := []string{"--endpoint-url", c.s.URL(true), "--region", c.s.Region()}
	c.run("aws", append(ep, "s3", "mb", "s3://cross")...)
	big, data := c.file("big.bin", 10<<20)
	c.run("aws", append(ep, "s3", "cp", big, "s3://cross/from-s3.bin", "--metadata", "origin=aws")...)
	c.run("swift", "download", "-o", filepath.Join(c.home, "a.out"), "cross", "from-s3.bin")
	c.sameFile(filepath.Join(c.home, "a.out"), data)
	mustContain(t, c.run("swift", "stat", "cross", "from-s3.bin"), "Origin: aws")

	c.run("swift", "upload", "--object-name", "from-swift.bin", "-H", "X-Object-Meta-Origin: swift", "cross", big)
	c.run("aws", append(ep, "s3", "cp", "s3://cross/from-swift.bin", filepath.Join(c.home, "b.out"))...)
	c.sameFile(filepath.Join(c.home, "b.out"), data)
	mustContain(t, c.run("aws", append(ep, "s3api", "head-object", "--bucket", "cross", "--key", "from-swift.bin")...), `"origin": "swift"`)
}
