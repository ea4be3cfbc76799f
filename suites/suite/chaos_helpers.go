package suite

// Helpers for the chaos and encryption suites: an Env around a topology
// a spec starts itself (calibration against a flawed engine), WAN links
// by site, and set-up barriers that are not checks (a bucket's
// versioning, an idle engine before a fault), plus views of a verdict's
// measured lags.

import (
	"context"
	"fmt"
	"time"

	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/harness/wan"
	"github.com/replcheck/replcheck/verifier/client"
	"github.com/replcheck/replcheck/verifier/convergence"
)

// NewEnv builds an Env around a topology started elsewhere (for example
// an embedded topology with a flaw on, started by a calibration spec),
// filled in as Setup fills it. Teardown removes the buckets the Env
// created and, unless target is external, closes topo. Set Flaws if the
// topology runs with some.
func NewEnv(target string, topo harness.Topology) *Env {
	return &Env{Target: target, Topo: topo, Prefix: "rcs-" + randomHex(4) + "-", rt: client.NewTransport()}
}

// WAN returns the WAN link of the direction from → to.
func (e *Env) WAN(from, to harness.Site) (*wan.Link, error) {
	l, err := e.Topo.Link(from.Name(), to.Name())
	if err != nil {
		return nil, err
	}
	if l.WAN() == nil {
		return nil, fmt.Errorf("link %s → %s has no WAN proxy", from.Name(), to.Name())
	}
	return l.WAN(), nil
}

// WaitVersioning waits until every site reports versioning enabled on
// bucket: the bucket's configuration is replicated like its objects, and a
// spec that cuts a link right after creating a versioned bucket must not
// cut it off its configuration. It is set-up, not a check.
func (s *Session) WaitVersioning(ctx context.Context, bucket string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for name, c := range s.probes {
		s3, ok := c.(*client.S3)
		if !ok {
			return fmt.Errorf("versioning of %s at %s: not an S3 client", bucket, name)
		}
		for {
			cfg, err := s3.Minio().GetBucketVersioning(ctx, bucket)
			if err == nil && cfg.Enabled() {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("versioning of %s never enabled at %s (last error: %v)", bucket, name, err)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return nil
}

// WaitInSync waits until every site whose engine reports its replication
// status says nothing is pending, where the target has that capability
// (elsewhere it returns at once). A barrier before a fault, so that the
// fault meets only the changes the spec makes after it; never a check
// (an engine may claim to be in sync wrongly: that is the verifier's to
// find).
func (s *Session) WaitInSync(ctx context.Context, limit time.Duration) error {
	if !s.env.Topo.Capabilities()[harness.CapRepStatus] {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for _, site := range s.env.Sites() {
		sr, ok := site.(harness.StatusReporter)
		if !ok {
			continue
		}
		for {
			st, err := sr.ReplicationStatus(ctx)
			if err == nil && st.InSync {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("site %s not in sync (status %+v, error %v)", site.Name(), st, err)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return nil
}

// Writes returns the tracked writes of the verdict's convergence
// measurement that keep accepts (every one for nil).
func (v Verdict) Writes(keep func(convergence.Write) bool) []convergence.Write {
	var out []convergence.Write
	for _, w := range v.Convergence.Writes {
		if keep == nil || keep(w) {
			out = append(out, w)
		}
	}
	return out
}

// Has reports whether the verdict found the anomaly name.
func (v Verdict) Has(name string) bool {
	for _, n := range v.Found {
		if n == name {
			return true
		}
	}
	return false
}
