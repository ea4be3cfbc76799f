// Package harness defines what every topology provider offers: sites with
// their endpoints and credentials, the WAN links between them, and the
// faults the provider can make. It knows nothing of what is checked.
package harness

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/replcheck/replcheck/harness/wan"
)

// Capability names a fault or feature a provider may support. A scenario
// asking for one the target lacks fails fast with Require's error.
type Capability string

// Capabilities a provider may have.
const (
	CapPartition  Capability = "partition"          // cut a WAN direction (refuse or blackhole)
	CapWANShape   Capability = "wan-shape"          // latency, jitter, bandwidth, resets on a WAN direction
	CapCrash      Capability = "crash"              // abrupt stop of a site, restart with the same data
	CapPause      Capability = "pause"              // freeze a site and resume it
	CapDisconnect Capability = "disconnect"         // cut a site off the inter-site network at the network layer, both ways; clients still reach it
	CapClockSkew  Capability = "clock-skew"         // shift a site's clock
	CapFlaws      Capability = "flaws"              // turn on the reference engine's named flaws
	CapRepStatus  Capability = "replication-status" // the engine reports its own replication status
	CapGroundTime Capability = "ground-truth"       // the engine records when each change was applied at the peer
)

// Capabilities is the set a provider supports.
type Capabilities map[Capability]bool

// Require returns an error naming every capability in want that c lacks.
func (c Capabilities) Require(target string, want ...Capability) error {
	var missing []string
	for _, w := range want {
		if !c[w] {
			missing = append(missing, string(w))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("target %s cannot %s", target, strings.Join(missing, ", "))
}

// List returns the capabilities, sorted, for reports.
func (c Capabilities) List() []string {
	var out []string
	for k, ok := range c {
		if ok {
			out = append(out, string(k))
		}
	}
	sort.Strings(out)
	return out
}

// Endpoint is one endpoint of a site: S3 and Swift over one namespace.
type Endpoint struct {
	S3        string // base URL of the S3 API
	SwiftAuth string // TempAuth v1 URL
}

// Credentials authenticate against a site. String never shows secrets.
type Credentials struct {
	AccessKey string
	SecretKey string
	SwiftUser string // "account:user"
	SwiftKey  string
}

// Secrets returns the secret keys of sites, to redact from what is kept
// of their logs.
func Secrets(sites []Site) []string {
	var out []string
	for _, s := range sites {
		c := s.Credentials()
		out = append(out, c.SecretKey, c.SwiftKey)
	}
	return out
}

// String shows the access key and Swift user only.
func (c Credentials) String() string {
	return fmt.Sprintf("access key %s, swift user %s", c.AccessKey, c.SwiftUser)
}

// Site is one site of a topology.
type Site interface {
	Name() string
	Region() string
	Replicated() Endpoint
	NonReplicated() Endpoint
	Credentials() Credentials
}

// Crasher is a site that can be stopped abruptly and restarted with the
// same data (CapCrash).
type Crasher interface {
	Crash(ctx context.Context) error
	Restart(ctx context.Context) error
}

// Pauser is a site that can be frozen and resumed (CapPause).
type Pauser interface {
	Pause(ctx context.Context) error
	Resume(ctx context.Context) error
}

// Disconnecter is a site that can be cut off the inter-site network and
// put back (CapDisconnect): a hard partition at the network layer, for
// targets whose sites are separate hosts. While disconnected, no traffic
// passes between the site and any other site, in either direction and
// whatever the WAN proxies are set to, but clients still reach the site's
// endpoints. The cut is independent of the site's other faults: a
// disconnected site stays disconnected across Crash and Restart, Pause and
// Resume, and Reconnect does not restart or resume it. Reconnect of a site
// that is connected does nothing and is not an error: cleanup after a lost
// run calls it on every such site.
type Disconnecter interface {
	Disconnect(ctx context.Context) error
	Reconnect(ctx context.Context) error
}

// ClockSkewer is a site whose clock can be shifted (CapClockSkew).
type ClockSkewer interface {
	SetClockSkew(d time.Duration) error
}

// ReplicationStatus is what an engine says of its own outgoing
// replication at one site.
type ReplicationStatus struct {
	PendingOperations int   `json:"pendingOperations"`
	PendingBytes      int64 `json:"pendingBytes"`
	// InSync is the engine's claim that nothing is waiting to be shipped.
	InSync bool `json:"inSync"`
}

// StatusReporter is a site whose engine reports its replication status
// (CapRepStatus): the verifier compares the claim with what it observed.
type StatusReporter interface {
	ReplicationStatus(ctx context.Context) (ReplicationStatus, error)
}

// Link is the WAN direction from one site to another: the path the
// sending site's replication traffic takes.
type Link interface {
	From() string
	To() string
	WAN() *wan.Link
}

// Topology is a running set of sites and links.
type Topology interface {
	// Target names the provider: embedded, containers, external, ….
	Target() string
	Sites() []Site
	Site(name string) (Site, error)
	// Link returns the WAN direction from → to.
	Link(from, to string) (Link, error)
	Links() []Link
	Capabilities() Capabilities
	// Close stops everything the topology started.
	Close(ctx context.Context) error
}

// FindSite returns the site named name among sites.
func FindSite(sites []Site, name string) (Site, error) {
	i := slices.IndexFunc(sites, func(s Site) bool { return s.Name() == name })
	if i < 0 {
		names := make([]string, len(sites))
		for j, s := range sites {
			names[j] = s.Name()
		}
		return nil, fmt.Errorf("no site %q (sites: %s)", name, strings.Join(names, ", "))
	}
	return sites[i], nil
}

// ProbeTransporter is a topology whose sites may answer a read of an
// object they do not hold yet with the peer's copy (proxied reads). The
// verifier sends its probes and final-state reads through ProbeTransport,
// which asks each site for its own copy only, so that a proxied answer is
// never taken for a replicated object.
type ProbeTransporter interface {
	ProbeTransport(rt http.RoundTripper) http.RoundTripper
}

// BucketPreparer is a topology whose replication is configured per
// bucket: PrepareBucket creates the bucket at every site, set to
// replicate, and is what the harness calls instead of creating it at one
// site.
type BucketPreparer interface {
	PrepareBucket(ctx context.Context, bucket string) error
}

// SSEOfferer is a topology that offers only some server-side encryption
// modes; SSEModes names them as verifier/client does (SSE-S3, SSE-KMS,
// SSE-C). A topology that is not one offers them all.
type SSEOfferer interface {
	SSEModes() []string
}

// OffersSSE reports whether t offers SSE mode (named as verifier/client
// names it); a topology that is not an SSEOfferer offers every mode.
func OffersSSE(t Topology, mode string) bool {
	so, ok := t.(SSEOfferer)
	return !ok || slices.Contains(so.SSEModes(), mode)
}

// OfferedSSE names the SSE modes t offers, for messages: "SSE-S3,
// SSE-KMS", "none", or "all" for a topology that is not an SSEOfferer.
func OfferedSSE(t Topology) string {
	so, ok := t.(SSEOfferer)
	switch {
	case !ok:
		return "all"
	case len(so.SSEModes()) == 0:
		return "none"
	}
	return strings.Join(so.SSEModes(), ", ")
}

// VersioningRefuser is a topology whose buckets cannot be versioned over
// S3 (Swift's s3api answers "Not implemented"), or whose replication
// skips versioned buckets.
type VersioningRefuser interface {
	RefusesVersioning() bool
}

// ChunkedUploadRefuser is a site whose S3 API refuses aws-chunked
// (streaming SigV4) uploads, which S3 clients send over plain HTTP; clients
// sign such a site's uploads as UNSIGNED-PAYLOAD instead.
type ChunkedUploadRefuser interface {
	RefusesChunkedUploads() bool
}

// KMSKeyNamer is a topology whose SSE-KMS writes must name their key (the
// engine has no default key): KMSKeyID is the one to name.
type KMSKeyNamer interface {
	KMSKeyID() string
}

// Started returns what a provider's Start returned as a Topology, closing
// what a failed start left running: a nil pointer must not become a
// non-nil interface.
func Started[T any, P interface {
	*T
	Topology
}](ctx context.Context, t P, err error) (Topology, error) {
	if err != nil {
		if t != nil {
			_ = t.Close(context.WithoutCancel(ctx))
		}
		return nil, err
	}
	return t, nil
}
