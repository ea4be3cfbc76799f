package ceph

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// run runs a short command and returns its stdout; the error carries stderr.
func run(ctx context.Context, bin string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 2000 {
			msg = "…" + msg[len(msg)-2000:]
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) && msg != "" {
			return stdout.Bytes(), fmt.Errorf("%s %s: %w: %s", filepath.Base(bin), strings.Join(redact(args), " "), err, msg)
		}
		return stdout.Bytes(), fmt.Errorf("%s %s: %w", filepath.Base(bin), strings.Join(redact(args), " "), err)
	}
	return stdout.Bytes(), nil
}

// redact hides the values of secret-bearing flags in a command line shown
// in an error.
func redact(args []string) []string {
	out := make([]string, len(args))
	copy(out, args)
	for i := 0; i+1 < len(out); i++ {
		switch out[i] {
		case "--secret", "--secret-key", "--access-key":
			out[i+1] = "***"
		}
	}
	return out
}
