// Package suite is what the Ginkgo suites share: the target they run
// against, chosen by flags or environment, and sessions whose operations
// are recorded and then judged by the verifier (convergence probes, the
// final state of both sites, the checker), never by ad-hoc sleeps.
//
// Flags (after -args with go test, after -- with the ginkgo CLI), each
// with an environment variable that sets its default:
//
//	--target embedded|containers|external|minio|ceph|swift   REPLCHECK_TARGET (default embedded)
//	--sites FILE                                            REPLCHECK_SITES  (external target)
//	--flaw NAME[,NAME]                                      REPLCHECK_FLAWS  (reference engine's flaws)
//
// The targets minio, ceph and swift start that real engine's two-site
// topology on this host (its programs installed with `make engines`) and
// stop it at Teardown. Specs that need what a target lacks (the Swift
// API, a non-replicated endpoint, storage policies, an SSE mode, S3
// versioning) skip, saying so; Env's Missing methods give the reasons.
//
// Credentials of external sites come from environment variables only,
// named in the sites file. Everything a suite creates is a bucket whose
// name starts with the run's prefix ("rcs-<random>-"), and Teardown
// removes exactly those.
package suite

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/replcheck/replcheck/engine/replication"
	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/harness/containers"
	"github.com/replcheck/replcheck/harness/embedded"
	"github.com/replcheck/replcheck/harness/engines"
	"github.com/replcheck/replcheck/harness/engines/swift"
	"github.com/replcheck/replcheck/harness/external"
	"github.com/replcheck/replcheck/verifier/client"
)

// Targets a suite can run against.
const (
	TargetEmbedded   = "embedded"
	TargetContainers = "containers"
	TargetExternal   = "external"
)

var (
	flagTarget = flag.String("target", envOr("REPLCHECK_TARGET", TargetEmbedded), "where the sites run: embedded, containers, external, or a real engine started here: minio, ceph, swift (REPLCHECK_TARGET)")
	flagSites  = flag.String("sites", os.Getenv("REPLCHECK_SITES"), "sites file of the external target (REPLCHECK_SITES)")
	flagFlaws  = flag.String("flaw", os.Getenv("REPLCHECK_FLAWS"), "comma-separated flaws of the reference engine to turn on (REPLCHECK_FLAWS)")
)

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// Env is the target of one suite run.
type Env struct {
	Target string
	Topo   harness.Topology
	Flaws  replication.Flaws
	// Prefix starts the name of every bucket the run creates.
	Prefix string

	rt *http.Transport
	mu sync.Mutex
	// created are the buckets to remove at Teardown.
	created []string
	// versioning is MissingVersioning's answer, once known.
	versioning *string
}

// Setup starts (or, for external, opens) the target the flags name.
func Setup(ctx context.Context) (*Env, error) {
	fl, err := replication.ParseFlaws(splitList(*flagFlaws)...)
	if err != nil {
		return nil, fmt.Errorf("--flaw: %w", err)
	}
	e := NewEnv(*flagTarget, nil)
	e.Flaws = fl
	switch e.Target {
	case TargetEmbedded:
		t, err := embedded.Start(ctx, embedded.Options{Flaws: fl, MinBackoff: 20 * time.Millisecond, MaxBackoff: time.Second})
		if t != nil {
			e.Topo = t
		}
		if err != nil {
			return e, err
		}
	case TargetContainers:
		t, err := containers.Start(ctx, containers.Options{Flaws: fl, MinBackoff: 20 * time.Millisecond, MaxBackoff: time.Second})
		if t != nil {
			e.Topo = t
		}
		if err != nil {
			return e, err
		}
	case TargetExternal:
		if len(fl) > 0 {
			return nil, errors.New("--flaw is for the reference engine (embedded and containers targets)")
		}
		if *flagSites == "" {
			return nil, errors.New("the external target needs --sites FILE (or REPLCHECK_SITES)")
		}
		f, err := external.Load(*flagSites)
		if err != nil {
			return nil, err
		}
		t, err := external.Open(ctx, f, external.Options{Transport: e.rt})
		if err != nil {
			return nil, err
		}
		e.Topo = t
	case engines.MinIO, engines.Ceph, engines.Swift:
		if len(fl) > 0 {
			return nil, fmt.Errorf("--flaw is for the reference engine; target %s runs a real engine", e.Target)
		}
		t, err := engines.Start(ctx, e.Target, nil, nil)
		if err != nil {
			return nil, err
		}
		e.Topo = t
	default:
		return nil, fmt.Errorf("--target %q: want embedded, containers, external, minio, ceph or swift", e.Target)
	}
	return e, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Sites returns the topology's sites.
func (e *Env) Sites() []harness.Site { return e.Topo.Sites() }

// Site returns the i-th site.
func (e *Env) Site(i int) harness.Site { return e.Topo.Sites()[i] }

// Missing returns a reason to skip a spec that needs caps, or "".
func (e *Env) Missing(caps ...harness.Capability) string {
	if err := e.Topo.Capabilities().Require(e.Target, caps...); err != nil {
		return err.Error()
	}
	return ""
}

// probeClient returns an unrecorded S3 client of site's replicated
// endpoint for the verifier's probes and final-state reads: through the
// topology's ProbeTransport where it has one, so that a site answering
// with its peer's copy of an object it lacks is never taken to hold it.
func (e *Env) probeClient(site harness.Site) (client.Client, error) {
	rt := http.RoundTripper(e.rt)
	if pt, ok := e.Topo.(harness.ProbeTransporter); ok {
		rt = pt.ProbeTransport(e.rt)
	}
	return client.NewS3(site, true, client.WithTransport(rt))
}

// Client returns an unrecorded client of site's replicated (or
// non-replicated) endpoint through api (client.APIS3 or client.APISwift).
func (e *Env) Client(site harness.Site, api string, replicated bool) (client.Client, error) {
	switch api {
	case client.APIS3:
		return client.NewS3(site, replicated, client.WithTransport(e.rt))
	case client.APISwift:
		return client.NewSwift(site, replicated, client.WithTransport(e.rt))
	}
	return nil, fmt.Errorf("api %q: want %s or %s", api, client.APIS3, client.APISwift)
}

// BucketName returns the run's name for a bucket called name in a spec,
// and registers it for removal at Teardown. Names from different specs
// must differ.
func (e *Env) BucketName(name string) string {
	b := e.Prefix + name
	e.mu.Lock()
	defer e.mu.Unlock()
	if !slices.Contains(e.created, b) {
		e.created = append(e.created, b)
	}
	return b
}

// Owns reports whether bucket is one this run created.
func (e *Env) Owns(bucket string) bool { return strings.HasPrefix(bucket, e.Prefix) }

// Teardown removes the run's buckets (objects, versions and all) at every
// site, then stops the topology it started. Buckets it did not create are
// never touched.
func (e *Env) Teardown(ctx context.Context) error {
	if e == nil || e.Topo == nil {
		return nil
	}
	var errs []error
	e.mu.Lock()
	created := slices.Clone(e.created)
	e.mu.Unlock()
	for _, s := range e.Sites() {
		for _, replicated := range []bool{true, false} {
			if !replicated && s.NonReplicated().S3 == "" {
				continue
			}
			c, err := e.Client(s, client.APIS3, replicated)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			for _, b := range created {
				if err := remove(ctx, c, b); err != nil {
					errs = append(errs, fmt.Errorf("remove %s at %s: %w", b, s.Name(), err))
				}
			}
		}
		errs = append(errs, e.removeSegments(ctx, s, created)...)
	}
	e.rt.CloseIdleConnections()
	if e.Target != TargetExternal {
		errs = append(errs, e.Topo.Close(ctx))
	}
	return errors.Join(errs...)
}

// removeWithin bounds how long remove keeps emptying a bucket that is
// not empty yet.
const removeWithin = 10 * time.Second

// remove empties bucket and deletes it; a bucket that is not empty yet is
// emptied again, for up to removeWithin: a replica may arrive after it was
// emptied, and an engine may keep a deleted version until its peer has
// deleted it too (MinIO's versioned deletes under site replication).
func remove(ctx context.Context, c client.Client, bucket string) error {
	deadline := time.Now().Add(removeWithin)
	for {
		if err := Empty(ctx, c, bucket); err != nil {
			if client.IsNotFound(err) {
				return nil
			}
			return err
		}
		err := c.DeleteBucket(ctx, bucket)
		if err == nil || client.IsNotFound(err) {
			return nil
		}
		if !isConflict(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// removeSegments removes, where the topology prepares buckets and site
// has Swift, the containers in which Swift's S3 API keeps the parts of a
// bucket's multipart uploads (<bucket>+segments, which are no S3 bucket
// names): PrepareBucket made them with every bucket.
func (e *Env) removeSegments(ctx context.Context, site harness.Site, buckets []string) []error {
	if _, ok := e.Topo.(harness.BucketPreparer); !ok || site.Replicated().SwiftAuth == "" {
		return nil
	}
	c, err := e.Client(site, client.APISwift, true)
	if err != nil {
		return []error{err}
	}
	var errs []error
	for _, b := range buckets {
		seg := b + swift.SegmentsSuffix
		ls, err := c.List(ctx, seg, "")
		if client.IsNotFound(err) {
			continue
		}
		if err == nil {
			for _, l := range ls {
				if _, err = c.Delete(ctx, seg, l.Key, ""); err != nil && !client.IsNotFound(err) {
					break
				}
				err = nil
			}
		}
		if err == nil {
			if err = c.DeleteBucket(ctx, seg); client.IsNotFound(err) {
				err = nil
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("remove %s at %s: %w", seg, site.Name(), err))
		}
	}
	return errs
}

// isConflict is a bucket that is not empty. The S3 error's code and
// status are not always in its message (MinIO's says "not empty").
func isConflict(err error) bool {
	var er minio.ErrorResponse
	return errors.As(err, &er) && er.Code == "BucketNotEmpty" || client.StatusCode(err) == http.StatusConflict
}

// Empty deletes every object, version and delete marker in bucket
// through c, which must be an S3 client.
func Empty(ctx context.Context, c client.Client, bucket string) error {
	s3, ok := c.(*client.S3)
	if !ok {
		return fmt.Errorf("empty %s: not an S3 client", bucket)
	}
	mc := s3.Minio()
	for u := range mc.ListIncompleteUploads(ctx, bucket, "", true) {
		if u.Err != nil {
			// Some engines list uploads that cannot be looked up: the
			// objects are still removed, and deleting the bucket says
			// whether anything was left.
			break
		}
		if u.Key == "" {
			continue // listed without its key (Swift's S3 API): cannot be aborted
		}
		if err := mc.RemoveIncompleteUpload(ctx, bucket, u.Key); err != nil && !client.IsNotFound(err) {
			return err
		}
	}
	for o := range mc.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true, WithVersions: true}) {
		if o.Err != nil {
			return o.Err
		}
		if err := mc.RemoveObject(ctx, bucket, o.Key, minio.RemoveObjectOptions{VersionID: o.VersionID}); err != nil && !client.IsNotFound(err) {
			return err
		}
	}
	return nil
}
