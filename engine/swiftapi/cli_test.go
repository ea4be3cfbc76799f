package swiftapi_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/replcheck/replcheck/engine/objio"
	"github.com/replcheck/replcheck/engine/sse"
	"github.com/replcheck/replcheck/engine/store"
)

// TestSwiftCLI drives the front end with python-swiftclient's `swift`
// command, when it is installed (a `swift` that is the Swift compiler does
// not count).
func TestSwiftCLI(t *testing.T) {
	bin, err := exec.LookPath("swift")
	if err != nil {
		t.Skip("swift (python-swiftclient) not installed")
	}
	if out, err := exec.Command(bin, "--version").CombinedOutput(); err != nil || !strings.Contains(string(out), "python-swiftclient") {
		t.Skip("swift on PATH is not python-swiftclient")
	}
	f := newFixture(t)
	dir := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"-A", f.srv.URL + "/auth/v1.0", "-U", testUser, "-K", testSecret}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "ST_AUTH=", "OS_AUTH_URL=", "OS_USERNAME=", "OS_PASSWORD=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("swift %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	data := randBytes(300_000, 5)
	if err := os.WriteFile(filepath.Join(dir, "local.bin"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	run("post", "-H", "X-Storage-Policy: gp.recurring", "-m", "Color:blue", "cli")
	if out := run("stat", "cli"); !strings.Contains(out, "Meta Color: blue") || !strings.Contains(out, "gp.recurring") {
		t.Errorf("container stat:\n%s", out)
	}
	// upload checks the PUT's ETag against the file's MD5.
	run("upload", "--object-name", "dir/file one.bin", "-H", "X-Object-Meta-Op: 7", "cli", "local.bin")
	if out := run("list", "cli"); out != "dir/file one.bin\n" {
		t.Errorf("list: %q", out)
	}
	if out := run("list", "cli", "--delimiter", "/"); out != "dir/\n" {
		t.Errorf("list with delimiter: %q", out)
	}
	v, err := f.st.GetObject("cli", "dir/file one.bin", "")
	if err != nil || v.UserMeta["op"] != "7" {
		t.Fatalf("uploaded object %+v, %v", v, err)
	}
	// download checks the body against the ETag.
	run("download", "cli", "dir/file one.bin", "-o", "back.bin")
	if got, _ := os.ReadFile(filepath.Join(dir, "back.bin")); !bytes.Equal(got, data) {
		t.Errorf("download differs")
	}
	run("copy", "--destination", "/cli/copy.bin", "cli", "dir/file one.bin")
	run("post", "-m", "Shape:round", "cli", "copy.bin")
	if out := run("stat", "cli", "copy.bin"); !strings.Contains(out, "Meta Shape: round") || strings.Contains(out, "Meta Op") {
		t.Errorf("object stat after post:\n%s", out)
	}

	// Objects the S3 side wrote: SSE-KMS, and multipart (shown as SLOs).
	if err := f.st.SetBucketEncryption("cli", &store.BucketEncryption{Mode: sse.SSEKMS}); err != nil {
		t.Fatal(err)
	}
	f.putDirect("cli", "kms.bin", data, store.ObjectMeta{}, sse.Params{Mode: sse.SSEKMS})
	u, err := objio.CreateUpload(f.st, f.cfg.Keyring, "cli", "mp.bin", store.ObjectMeta{}, sse.Params{})
	if err != nil {
		t.Fatal(err)
	}
	var parts []store.CompletePart
	for i, chunk := range [][]byte{data[:minPart], data[minPart : 2*minPart], data[2*minPart:]} {
		p, err := objio.PutPart(f.st, f.cfg.Keyring, "cli", "mp.bin", u.ID, i+1, objio.PutInput{Body: bytes.NewReader(chunk), Size: int64(len(chunk))})
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, store.CompletePart{Number: i + 1, ETag: p.ETag})
	}
	if _, err := f.st.CompleteUpload("cli", "mp.bin", u.ID, parts); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"kms.bin", "mp.bin"} {
		out := filepath.Join(dir, "got-"+name)
		run("download", "cli", name, "-o", out)
		if got, _ := os.ReadFile(out); !bytes.Equal(got, data) {
			t.Errorf("download of %s differs", name)
		}
	}
	// Upload into the SSE-KMS container: the PUT answers the plaintext MD5.
	run("upload", "--object-name", "kms-up.bin", "cli", "local.bin")
	if v, _ := f.st.GetObject("cli", "kms-up.bin", ""); v == nil || v.SSE == nil {
		t.Errorf("upload into SSE-KMS container stored %+v", v)
	}
	// --skip-identical reads the multipart object's manifest and compares parts.
	run("upload", "--skip-identical", "--object-name", "mp.bin", "cli", "local.bin")
	if v, _ := f.st.GetObject("cli", "mp.bin", ""); v == nil || !v.Multipart {
		t.Errorf("identical multipart object was uploaded again: %+v", v)
	}
	// Overwriting objects shown as SLOs makes swift delete their old
	// segments, named in the manifest: that must succeed and touch nothing.
	f.putDirect("cli", "mp.bin/00001", []byte("bystander"), store.ObjectMeta{}, sse.Params{})
	run("upload", "--object-name", "mp.bin", "cli", "local.bin")
	run("upload", "--object-name", "kms.bin", "cli", "local.bin")
	if v, _ := f.st.GetObject("cli", "mp.bin", ""); v == nil || v.Multipart {
		t.Errorf("multipart object not overwritten: %+v", v)
	}
	if s, err := f.conn.ObjectGetString(ctx, "cli", "mp.bin/00001"); s != "bystander" || err != nil {
		t.Errorf("bystander object: %q, %v", s, err)
	}
	run("delete", "cli", "mp.bin/00001")
	if out := run("capabilities"); !strings.Contains(out, "max_object_name_length") {
		t.Errorf("capabilities:\n%s", out)
	}
	run("delete", "cli", "mp.bin", "kms.bin", "kms-up.bin", "copy.bin", "dir/file one.bin")
	if out := run("list", "cli"); out != "" {
		t.Errorf("after delete: %q", out)
	}
	run("delete", "cli")
	if _, err := f.st.GetBucket("cli"); err == nil {
		t.Errorf("container survived swift delete")
	}
}
