package minio

import (
	"context"
	"net/http"

	"github.com/replcheck/replcheck/harness"
)

var (
	_ harness.ProbeTransporter = (*Topology)(nil)
	_ harness.SSEOfferer       = (*Topology)(nil)
)

// ProbeTransport implements harness.ProbeTransporter: MinIO answers a read
// of an object it does not hold yet with its peer's copy unless the
// request carries NoProxyHeader.
func (t *Topology) ProbeTransport(rt http.RoundTripper) http.RoundTripper { return ProbeTransport(rt) }

// SSEModes implements harness.SSEOfferer: SSE-S3 and SSE-KMS with the
// static KMS key; MinIO refuses SSE-C over plain HTTP.
func (t *Topology) SSEModes() []string { return []string{"SSE-S3", "SSE-KMS"} }

// SaveLogs keeps the logs of the topology's processes in dir, with the
// sites' secrets redacted (the runner's LogSaver: a run that does not
// pass keeps them).
func (t *Topology) SaveLogs(_ context.Context, dir string) error {
	return t.state.SaveLogs(dir, harness.Secrets(t.Sites())...)
}
