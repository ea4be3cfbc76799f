package swift

import "github.com/replcheck/replcheck/harness"

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
