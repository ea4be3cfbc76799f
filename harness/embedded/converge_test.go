package embedded_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/encrypt"
	"github.com/minio/minio-go/v7/pkg/tags"
	"github.com/ncw/swift/v2"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/replcheck/replcheck/engine/replication"
	"github.com/replcheck/replcheck/harness/embedded"
	"github.com/replcheck/replcheck/harness/wan"
)

// TestEveryModeConvergesFromEitherSite writes single-part and multipart
// objects in every SSE mode at each site and reads them back, byte for
// byte and with the same encryption, at the other.
func TestEveryModeConvergesFromEitherSite(t *testing.T) {
	ctx := context.Background()
	topo := start(t, embedded.Options{})
	a, b := sites(t, topo)
	ca, cb := s3c(t, a), s3c(t, b)
	mkbucket(t, ca, cb, "modes")
	ssec, _ := encrypt.NewSSEC(bytes.Repeat([]byte{3}, 32))
	kms, _ := encrypt.NewSSEKMS("", nil)
	modes := map[string]encrypt.ServerSide{"plain": nil, "sse-s3": encrypt.NewSSE(), "sse-kms": kms, "sse-c": ssec}
	big := bytes.Repeat([]byte("0123456789"), 1_100_000) // 11 MB: three 5 MiB parts
	type obj struct {
		c    *minio.Client
		key  string
		body []byte
		sse  encrypt.ServerSide
	}
	var written []obj
	for name, mode := range modes {
		for _, w := range []struct {
			c    *minio.Client
			site string
		}{{ca, "a"}, {cb, "b"}} {
			for _, size := range []int{0, 1000, len(big)} {
				key := fmt.Sprintf("%s/%s/%d", w.site, name, size)
				if _, err := w.c.PutObject(ctx, "modes", key, bytes.NewReader(big[:size]), int64(size),
					minio.PutObjectOptions{ServerSideEncryption: mode, PartSize: 5 << 20}); err != nil {
					t.Fatalf("put %s: %v", key, err)
				}
				peer := cb
				if w.site == "b" {
					peer = ca
				}
				written = append(written, obj{peer, key, big[:size], mode})
			}
		}
	}
	for _, o := range written {
		eventually(t, 15*time.Second, o.key+" at the peer", func() error {
			var get encrypt.ServerSide
			if o.sse != nil && o.sse.Type() == encrypt.SSEC {
				get = o.sse
			}
			r, err := o.c.GetObject(ctx, "modes", o.key, minio.GetObjectOptions{ServerSideEncryption: get})
			if err != nil {
				return err
			}
			defer r.Close()
			got, err := io.ReadAll(r)
			if err != nil {
				return err
			}
			if !bytes.Equal(got, o.body) {
				t.Fatalf("%s differs at the peer", o.key)
			}
			info, _ := r.Stat()
			if o.sse != nil && o.sse.Type() != encrypt.SSEC && info.Metadata.Get("X-Amz-Server-Side-Encryption") == "" {
				t.Fatalf("%s lost its encryption at the peer", o.key)
			}
			return nil
		})
	}
}

// TestVersionsMetadataAndBucketsConverge covers what is not object data:
// versioning with the same version ids and delete markers on both sites,
// metadata changed over Swift, tags over S3, bucket removal.
func TestVersionsMetadataAndBucketsConverge(t *testing.T) {
	ctx := context.Background()
	topo := start(t, embedded.Options{})
	a, b := sites(t, topo)
	ca, cb := s3c(t, a), s3c(t, b)
	mkbucket(t, ca, cb, "vers")
	if err := ca.EnableVersioning(ctx, "vers"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "versioning at b", func() error {
		c, err := cb.GetBucketVersioning(ctx, "vers")
		if err == nil && !c.Enabled() {
			err = fmt.Errorf("versioning %q", c.Status)
		}
		return err
	})
	put(t, ca, "vers", "k", "one")
	put(t, cb, "vers", "k", "two")
	if err := ca.RemoveObject(ctx, "vers", "k", minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	versions := func(c *minio.Client) (string, error) {
		var ids []string
		for o := range c.ListObjects(ctx, "vers", minio.ListObjectsOptions{WithVersions: true}) {
			if o.Err != nil {
				return "", o.Err
			}
			ids = append(ids, fmt.Sprintf("%s:%v", o.VersionID, o.IsDeleteMarker))
		}
		slices.Sort(ids)
		return strings.Join(ids, ","), nil
	}
	eventually(t, 10*time.Second, "same versions at both sites", func() error {
		va, err1 := versions(ca)
		vb, err2 := versions(cb)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("%v %v", err1, err2)
		}
		if va != vb || strings.Count(va, ",") != 2 {
			return fmt.Errorf("a=%s b=%s", va, vb)
		}
		return nil
	})

	// Metadata over Swift at b, tags over S3 at a, on another key.
	mkbucket(t, ca, cb, "meta")
	put(t, ca, "meta", "m", "data")
	eventually(t, 5*time.Second, "m at b", hasValue(cb, "meta", "m", "data"))
	if err := swc(t, b).ObjectUpdate(ctx, "meta", "m", swift.Metadata{"color": "red"}.ObjectHeaders()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "metadata at a", func() error {
		info, err := ca.StatObject(ctx, "meta", "m", minio.StatObjectOptions{})
		if err == nil && info.UserMetadata["Color"] != "red" {
			err = fmt.Errorf("metadata %v", info.UserMetadata)
		}
		return err
	})
	tg, _ := tags.NewTags(map[string]string{"team": "storage"}, true)
	if err := ca.PutObjectTagging(ctx, "meta", "m", tg, minio.PutObjectTaggingOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "tags at b", func() error {
		got, err := cb.GetObjectTagging(ctx, "meta", "m", minio.GetObjectTaggingOptions{})
		if err == nil && got.ToMap()["team"] != "storage" {
			err = fmt.Errorf("tags %v", got.ToMap())
		}
		return err
	})

	// A bucket emptied and removed at b goes at a too.
	if err := cb.RemoveObject(ctx, "meta", "m", minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "delete at a", func() error {
		if _, err := ca.StatObject(ctx, "meta", "m", minio.StatObjectOptions{}); err == nil {
			return fmt.Errorf("still there")
		}
		return nil
	})
	if err := cb.RemoveBucket(ctx, "meta"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "bucket removed at a", func() error {
		if ok, err := ca.BucketExists(ctx, "meta"); err != nil || ok {
			return fmt.Errorf("exists=%v %v", ok, err)
		}
		return nil
	})
}

// TestStatusAndMetrics reads the engine's replication status: JSON and
// Prometheus, pending during a partition and drained after it.
func TestStatusAndMetrics(t *testing.T) {
	topo := start(t, embedded.Options{})
	a, b := sites(t, topo)
	ca, cb := s3c(t, a), s3c(t, b)
	mkbucket(t, ca, cb, "stat")
	ea, _ := topo.EngineSite(a.Name())
	ab, _ := topo.Link(a.Name(), b.Name())
	if err := ab.WAN().Partition(wan.Refuse); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		put(t, ca, "stat", fmt.Sprint(i), "12345")
	}
	scrape := func() map[string]float64 {
		resp, err := http.Get(ea.InternalURL() + replication.MetricsPath)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		p := expfmt.NewTextParser(model.LegacyValidation)
		fams, err := p.TextToMetricFamilies(resp.Body)
		if err != nil {
			t.Fatalf("metrics do not parse: %v", err)
		}
		out := map[string]float64{}
		for name, f := range fams {
			for _, m := range f.GetMetric() {
				switch {
				case m.Gauge != nil:
					out[name] = m.GetGauge().GetValue()
				case m.Counter != nil:
					out[name] = m.GetCounter().GetValue()
				case m.Histogram != nil:
					out[name] = float64(m.GetHistogram().GetSampleCount())
				}
			}
		}
		return out
	}
	m := scrape()
	if m["replcheck_replication_pending_operations"] != 5 || m["replcheck_replication_pending_bytes"] != 25 {
		t.Fatalf("pending during partition: %v", m)
	}
	ab.WAN().Heal()
	eventually(t, 10*time.Second, "drained", func() error {
		if st := ea.Replicator().Status(); !st.InSync {
			return fmt.Errorf("status %+v", st)
		}
		return nil
	})
	m = scrape()
	if m["replcheck_replication_pending_operations"] != 0 || m["replcheck_replication_shipped_operations_total"] < 6 ||
		m["replcheck_replication_latency_seconds"] < 6 || m["replcheck_replication_retries_total"] == 0 {
		t.Fatalf("after heal: %v", m)
	}
	// Ground truth: b recorded when it applied each of a's writes.
	eb, _ := topo.EngineSite(b.Name())
	v, err := ea.Store().GetObject("stat", "0", "")
	if err != nil {
		t.Fatal(err)
	}
	if at, ok := eb.Replicator().Receiver().AppliedAt("stat", "0", v.VersionID, v.Stamp); !ok || at.Before(v.ModTime) {
		t.Fatalf("applied at %v (%v), written %v", at, ok, v.ModTime)
	}
}
