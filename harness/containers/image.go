package containers

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/testcontainers/testcontainers-go"
)

// ImageRepo is the repository of the images this package builds; the tag
// is the binary's hash, so a binary is packed once however often it runs.
const ImageRepo = "replcheck"

// EnvBinary names a static replcheck binary to pack into the image,
// overriding the search of FindBinary.
const EnvBinary = "REPLCHECK_BINARY"

// dockerfile packs the binary alone: the image has nothing to pull and
// nothing but replcheck in it.
const dockerfile = `FROM scratch
LABEL org.replcheck.managed=true
COPY replcheck /replcheck
ENTRYPOINT ["/replcheck"]
`

// ErrNotStatic is returned (wrapped) for a binary that needs a dynamic
// loader, which a FROM-scratch image does not have.
var ErrNotStatic = errors.New("not a static linux/amd64 binary")

// CheckStatic returns nil if path is an ELF executable for this
// machine's architecture with no program interpreter: it runs in an
// empty image.
func CheckStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s: %w: %w", path, ErrNotStatic, err)
	}
	defer f.Close()
	if f.Machine != elf.EM_X86_64 && f.Machine != elf.EM_AARCH64 {
		return fmt.Errorf("%s: %w: machine %v", path, ErrNotStatic, f.Machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s: %w: it needs a dynamic loader (build with CGO_ENABLED=0)", path, ErrNotStatic)
		}
	}
	return nil
}

// FindBinary returns a static replcheck binary for the image: $REPLCHECK_BINARY
// if set; this executable if it is static and is replcheck itself; or,
// from a checkout of the project (moduleDir, found from the working
// directory when empty), one built with CGO_ENABLED=0 into the user's
// cache (go's build cache makes a second build cheap).
func FindBinary(ctx context.Context, moduleDir string) (string, error) {
	if p := os.Getenv(EnvBinary); p != "" {
		if err := CheckStatic(p); err != nil {
			return "", fmt.Errorf("%s: %w", EnvBinary, err)
		}
		return p, nil
	}
	if exe, err := os.Executable(); err == nil && isReplcheck(exe) && CheckStatic(exe) == nil {
		return exe, nil
	}
	if moduleDir == "" {
		moduleDir = findModule()
	}
	if moduleDir == "" {
		return "", fmt.Errorf("no static replcheck binary for the container image: build one with "+
			"`CGO_ENABLED=0 go build -o replcheck ./cmd/replcheck` and set %s to its path", EnvBinary)
	}
	return BuildBinary(ctx, moduleDir, "")
}

func isReplcheck(exe string) bool {
	b := filepath.Base(exe)
	return b == "replcheck" || strings.HasPrefix(b, "replcheck.")
}

// modulePath is the project's module path, to recognise a checkout.
const modulePath = "github.com/replcheck/replcheck"

// findModule returns the checkout of the project containing the working
// directory, or "".
func findModule() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil {
			if first, _, _ := strings.Cut(string(data), "\n"); strings.TrimSpace(first) == "module "+modulePath {
				return dir
			}
			return ""
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// BuildBinary builds a static replcheck from the checkout at moduleDir
// into out (default: the user's cache directory) and returns its path.
func BuildBinary(ctx context.Context, moduleDir, out string) (string, error) {
	if out == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		out = filepath.Join(cache, "replcheck", "image", "replcheck")
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", fmt.Errorf("build static replcheck: %w", err)
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, "./cmd/replcheck")
	cmd.Dir = moduleDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build static replcheck in %s: %w\n%s", moduleDir, err, msg)
	}
	return out, nil
}

// imageTag is the tag of the image of binary: a prefix of its SHA-256.
func imageTag(binary string) (string, error) {
	f, err := os.Open(binary)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// EnsureImage returns the image of binary, building it unless the engine
// already has it. built says whether it did.
func EnsureImage(ctx context.Context, p *testcontainers.DockerProvider, binary string) (ref string, built bool, err error) {
	if err := CheckStatic(binary); err != nil {
		return "", false, err
	}
	tag, err := imageTag(binary)
	if err != nil {
		return "", false, fmt.Errorf("image of %s: %w", binary, err)
	}
	ref = ImageRepo + ":" + tag
	if _, err := p.Client().ImageInspect(ctx, ref); err == nil {
		return ref, false, nil
	}
	buildCtx, err := contextArchive(binary)
	if err != nil {
		return "", false, fmt.Errorf("image of %s: %w", binary, err)
	}
	var log bytes.Buffer
	req := testcontainers.ContainerRequest{FromDockerfile: testcontainers.FromDockerfile{
		ContextArchive: bytes.NewReader(buildCtx), Repo: ImageRepo, Tag: tag, KeepImage: true, BuildLogWriter: &log}}
	if _, err := p.BuildImage(ctx, &req); err != nil {
		return "", false, fmt.Errorf("build image %s: %w\n%s", ref, err, log.String())
	}
	return ref, true, nil
}

// contextArchive is the build context: the Dockerfile and the binary.
func contextArchive(binary string) ([]byte, error) {
	bin, err := os.ReadFile(binary)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{{"Dockerfile", 0o644, []byte(dockerfile)}, {"replcheck", 0o755, bin}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data))}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
