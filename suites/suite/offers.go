package suite

// What a target offers, for specs to skip with a reason where it lacks
// what they need, and the ways specs create replicated buckets and ask
// for encryption so that they work on targets that set these up their
// own way (per-bucket replication, named KMS keys).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/minio/minio-go/v7"

	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/verifier/client"
)

// sitesOr returns sites, or every site of the target when there are none.
func (e *Env) sitesOr(sites []harness.Site) []harness.Site {
	if len(sites) == 0 {
		return e.Sites()
	}
	return sites
}

// MissingSwift returns why a spec that needs the Swift API at sites (all
// of the target's when none are given) cannot run, or "".
func (e *Env) MissingSwift(sites ...harness.Site) string {
	for _, s := range e.sitesOr(sites) {
		if s.Replicated().SwiftAuth == "" {
			return fmt.Sprintf("target %s has no Swift API at site %s (no Swift auth URL)", e.Target, s.Name())
		}
	}
	return ""
}

// HasSwift reports whether every site offers the Swift API.
func (e *Env) HasSwift() bool { return e.MissingSwift() == "" }

// MissingNonReplicated returns why a spec that needs a non-replicated
// endpoint at sites (all of the target's when none are given) cannot run,
// or "".
func (e *Env) MissingNonReplicated(sites ...harness.Site) string {
	for _, s := range e.sitesOr(sites) {
		if s.NonReplicated().S3 == "" {
			return fmt.Sprintf("target %s has no non-replicated endpoint at site %s", e.Target, s.Name())
		}
	}
	return ""
}

// APIs are the APIs every site offers over its one namespace: S3, and
// Swift where the target has it.
func (e *Env) APIs() []string {
	if e.HasSwift() {
		return []string{client.APIS3, client.APISwift}
	}
	return []string{client.APIS3}
}

// WayIn returns the API a replication spec uses where it would use api
// only as a way in (write over S3, read over Swift, say): api itself, or
// S3 for Swift on a target without Swift, so that the spec still checks
// replication over S3. Specs about Swift itself skip instead
// (MissingSwift).
func (e *Env) WayIn(api string) string {
	if api == client.APISwift && !e.HasSwift() {
		return client.APIS3
	}
	return api
}

// MissingSSE returns why a spec that writes with SSE mode (as
// verifier/client names it) cannot run on the target, or "". A target
// that is not a harness.SSEOfferer offers every mode.
func (e *Env) MissingSSE(mode string) string {
	if mode == "" || mode == client.SSENone || harness.OffersSSE(e.Topo, mode) {
		return ""
	}
	return fmt.Sprintf("target %s does not offer %s (it offers %s)", e.Target, mode, harness.OfferedSSE(e.Topo))
}

// MissingPolicies returns why a spec that needs the storage policies
// want at site's replicated (or non-replicated) endpoint cannot run, or
// "". Swift's capability document (GET /info, "swift" "policies") says
// which policies an endpoint has; an endpoint without Swift or without
// the document offers none the suites can ask for.
func (e *Env) MissingPolicies(ctx context.Context, site harness.Site, replicated bool, want ...string) string {
	ep, which := site.Replicated(), "replicated"
	if !replicated {
		ep, which = site.NonReplicated(), "non-replicated"
	}
	if ep.SwiftAuth == "" {
		return fmt.Sprintf("target %s has no Swift API at the %s endpoint of site %s, which says what storage policies it has", e.Target, which, site.Name())
	}
	have, err := e.policies(ctx, ep.SwiftAuth)
	if err != nil {
		return fmt.Sprintf("target %s lists no storage policies at the %s endpoint of site %s (%v)", e.Target, which, site.Name(), err)
	}
	var missing []string
	for _, w := range want {
		if !slices.Contains(have, w) {
			missing = append(missing, w)
		}
	}
	if len(missing) == 0 {
		return ""
	}
	return fmt.Sprintf("target %s has no storage policy %s at the %s endpoint of site %s (it has %s)",
		e.Target, strings.Join(missing, ", "), which, site.Name(), strings.Join(have, ", "))
}

// policies reads the names (and aliases) of the storage policies from
// the /info document of the Swift proxy whose auth URL is authURL.
func (e *Env) policies(ctx context.Context, authURL string) ([]string, error) {
	u, err := url.Parse(authURL)
	if err != nil {
		return nil, err
	}
	info := url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/info"}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, info.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := (&http.Client{Transport: e.rt}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d", info.String(), resp.StatusCode)
	}
	var doc struct {
		Swift struct {
			Policies []struct {
				Name    string `json:"name"`
				Aliases string `json:"aliases"`
			} `json:"policies"`
		} `json:"swift"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("GET %s: %w", info.String(), err)
	}
	var out []string
	for _, p := range doc.Swift.Policies {
		out = append(out, p.Name)
		for _, a := range strings.Split(p.Aliases, ",") {
			if a = strings.TrimSpace(a); a != "" && !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("GET %s names no policies", info.String())
	}
	return out, nil
}

// MissingVersioning returns why a spec that needs S3 versioning cannot
// run on the target, or "": a harness.VersioningRefuser says so itself;
// on any other target the first call turns versioning on in a bucket of
// the run, and an engine that answers it is not implemented refuses it. Any other outcome lets the specs run and meet it.
func (e *Env) MissingVersioning(ctx context.Context) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.versioning != nil {
		return *e.versioning
	}
	if vr, ok := e.Topo.(harness.VersioningRefuser); ok && vr.RefusesVersioning() {
		why := fmt.Sprintf("target %s has no S3 versioning", e.Target)
		e.versioning = &why
		return why
	}
	site := e.Site(0)
	c, err := e.Client(site, client.APIS3, true)
	if err != nil {
		return ""
	}
	b := e.Prefix + "versioning-probe"
	if !slices.Contains(e.created, b) {
		e.created = append(e.created, b)
	}
	if err := c.CreateBucket(ctx, b, client.BucketOptions{}); err != nil {
		return ""
	}
	why := ""
	if err := c.(*client.S3).Minio().EnableVersioning(ctx, b); err != nil {
		var er minio.ErrorResponse
		if errors.As(err, &er) && (er.Code == "NotImplemented" || er.StatusCode == http.StatusNotImplemented) {
			why = fmt.Sprintf("target %s refuses S3 versioning (%s at site %s: %s)", e.Target, er.Code, site.Name(), er.Message)
		} else {
			return ""
		}
	}
	e.versioning = &why
	return why
}

// CreateBucket creates bucket (a name from BucketName) for replication:
// on a topology whose replication is set per bucket
// (harness.BucketPreparer), at every site, set to replicate, with its
// default policy; elsewhere at site through its replicated S3 endpoint,
// which replicates it. Versioning, if asked for, is turned on at site.
// A spec testing bucket creation itself creates the bucket plainly.
func (e *Env) CreateBucket(ctx context.Context, site harness.Site, bucket string, o client.BucketOptions) error {
	bp, ok := e.Topo.(harness.BucketPreparer)
	if !ok {
		c, err := e.Client(site, client.APIS3, true)
		if err != nil {
			return err
		}
		return c.CreateBucket(ctx, bucket, o)
	}
	if o.Policy != "" {
		return fmt.Errorf("create bucket %s with policy %s: target %s sets buckets up for replication with its default policy", bucket, o.Policy, e.Target)
	}
	if err := bp.PrepareBucket(ctx, bucket); err != nil {
		return fmt.Errorf("prepare bucket %s on target %s: %w", bucket, e.Target, err)
	}
	if o.Versioning {
		c, err := e.Client(site, client.APIS3, true)
		if err != nil {
			return err
		}
		if err := c.(*client.S3).Minio().EnableVersioning(ctx, bucket); err != nil {
			return fmt.Errorf("bucket %s prepared, but enabling versioning at %s: %w", bucket, site.Name(), err)
		}
	}
	return nil
}

// SSE returns the encryption of a write with mode (as verifier/client
// names it): SSE-C with the session's key, SSE-KMS with the key the
// topology names (harness.KMSKeyNamer) or else the endpoint's default.
func (s *Session) SSE(mode string) client.SSE {
	switch mode {
	case client.SSEC:
		return s.SSEC
	case client.SSEKMS:
		if kn, ok := s.env.Topo.(harness.KMSKeyNamer); ok {
			return client.SSE{Mode: mode, KMSKeyID: kn.KMSKeyID()}
		}
	}
	return client.SSE{Mode: mode}
}
