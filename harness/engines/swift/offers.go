package swift

import (
	"context"

	"github.com/replcheck/replcheck/harness"
)

var (
	_ harness.BucketPreparer    = (*Topology)(nil)
	_ harness.SSEOfferer        = (*Topology)(nil)
	_ harness.VersioningRefuser = (*Topology)(nil)
)

// RefusesVersioning implements harness.VersioningRefuser: s3api answers
// PutBucketVersioning "Not implemented" with this pipeline, and the
// container-sync daemon skips containers with object versioning.
func (t *Topology) RefusesVersioning() bool { return true }

// SSEModes implements harness.SSEOfferer, offering none: s3api refuses
// SSE-KMS and ignores SSE-C headers, and although the encryption
// middleware keeps every object encrypted at rest, s3api never says so
// (no x-amz-server-side-encryption on any response), so no client can
// tell an SSE-S3 object kept encrypted from one that was not.
func (t *Topology) SSEModes() []string { return []string{} }

var _ harness.ChunkedUploadRefuser = (*Site)(nil)

// RefusesChunkedUploads implements harness.ChunkedUploadRefuser: Swift's
// s3api answers an aws-chunked upload "not supported".
func (s *Site) RefusesChunkedUploads() bool { return true }

// SaveLogs keeps the logs of the topology's processes in dir, with the
// sites' secrets redacted (the runner's LogSaver: a run that does not
// pass keeps them).
func (t *Topology) SaveLogs(_ context.Context, dir string) error {
	return t.state.SaveLogs(dir, harness.Secrets(t.Sites())...)
}
