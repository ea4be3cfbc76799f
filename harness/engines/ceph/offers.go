package ceph

import "github.com/replcheck/replcheck/harness"

var (
	_ harness.SSEOfferer  = (*Topology)(nil)
	_ harness.KMSKeyNamer = (*Topology)(nil)
)

// KMSKeyID implements harness.KMSKeyNamer: RGW's testing KMS backend has
// no default key, so SSE-KMS writes name this one.
func (t *Topology) KMSKeyID() string { return KMSKeyID }
