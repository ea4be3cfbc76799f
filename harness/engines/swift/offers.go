package swift

import (
	"context"

	"github.com/replcheck/replcheck/harness"
)

var (
	_ harness.BucketPreparer = (*Topology)(nil)
	_ harness.SSEOfferer     = (*Topology)(nil)
)

// SSEModes implements harness.SSEOfferer: s3api stores SSE-S3 objects
// encrypted at rest; it refuses SSE-KMS and ignores SSE-C headers, so
// neither is offered.
func (t *Topology) SSEModes() []string { return []string{"SSE-S3"} }

var _ harness.ChunkedUploadRefuser = (*Site)(nil)

// RefusesChunkedUploads implements harness.ChunkedUploadRefuser: Swift's
// s3api answers an aws-chunked upload "not supported".
func (s *Site) RefusesChunkedUploads() bool { return true }

// SaveLogs keeps the logs of the topology's processes in dir, with the
// sites' secrets redacted (the runner's LogSaver: a run that does not
// pass keeps them).
func (t *Topology) SaveLogs(_ context.Context, dir string) error {
	var secrets []string
	for _, s := range t.Sites() {
		c := s.Credentials()
		secrets = append(secrets, c.SecretKey, c.SwiftKey)
	}
	return t.state.SaveLogs(dir, secrets...)
}
