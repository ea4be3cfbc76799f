package ceph

import (
	"context"

	"github.com/replcheck/replcheck/harness"
)

var (
	_ harness.SSEOfferer  = (*Topology)(nil)
	_ harness.KMSKeyNamer = (*Topology)(nil)
)

// KMSKeyID implements harness.KMSKeyNamer: RGW's testing KMS backend has
// no default key, so SSE-KMS writes name this one.
func (t *Topology) KMSKeyID() string { return KMSKeyID }

// SaveLogs keeps the logs of the topology's processes in dir, with the
// sites' secrets redacted (the runner's LogSaver: a run that does not
// pass keeps them).
func (t *Topology) SaveLogs(_ context.Context, dir string) error {
	return t.state.SaveLogs(dir, harness.Secrets(t.Sites())...)
}
