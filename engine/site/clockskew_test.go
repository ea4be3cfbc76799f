package site_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/replcheck/replcheck/engine/replication"
	"github.com/replcheck/replcheck/engine/site"
)

func replicatingSite(t *testing.T, secret []byte) *site.Site {
	t.Helper()
	return startSite(t, site.Config{Replication: &site.Replication{Secret: secret}})
}

func hmacHex(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// putSkew sends a raw clock-skew PUT; sig "" sends no signature header.
func putSkew(t *testing.T, s *site.Site, body, sig string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, s.InternalURL()+site.ClockSkewPath, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if sig != "" {
		req.Header.Set(site.SignatureHeader, sig)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func getSkew(t *testing.T, s *site.Site) time.Duration {
	t.Helper()
	resp, err := http.Get(s.InternalURL() + site.ClockSkewPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got site.ClockSkew
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != http.StatusOK || got.SkewNanoseconds == nil {
		t.Fatalf("GET clock skew: %d %+v %v", resp.StatusCode, got, err)
	}
	return time.Duration(*got.SkewNanoseconds)
}

func TestClockSkewEndpoint(t *testing.T) {
	secret := site.GenerateSecret()
	s := replicatingSite(t, secret)
	if d := getSkew(t, s); d != 0 {
		t.Fatalf("initial skew %v", d)
	}
	good := `{"skewNanoseconds": 90000000000}`
	for _, tc := range []struct {
		name, body, sig string
		status          int
		want            string
	}{
		{"missing signature", good, "", http.StatusUnauthorized, "missing " + site.SignatureHeader},
		{"wrong secret", good, hmacHex([]byte("other secret"), []byte(good)), http.StatusUnauthorized, "does not match"},
		{"garbage signature", good, "not-hex", http.StatusUnauthorized, "does not match"},
		// A signature over another body must not authorise this one.
		{"signature of another body", good, hmacHex(secret, []byte(`{"skewNanoseconds": 1}`)), http.StatusUnauthorized, "does not match"},
		{"bad JSON", `{"skewNanoseconds": "1h"}`, hmacHex(secret, []byte(`{"skewNanoseconds": "1h"}`)), http.StatusBadRequest, "skewNanoseconds"},
		{"not JSON", `skew=1h`, hmacHex(secret, []byte(`skew=1h`)), http.StatusBadRequest, "body must be"},
		{"missing field", `{}`, hmacHex(secret, []byte(`{}`)), http.StatusBadRequest, "missing"},
		{"unknown field", `{"skewNanoseconds": 1, "extra": 2}`, hmacHex(secret, []byte(`{"skewNanoseconds": 1, "extra": 2}`)), http.StatusBadRequest, "extra"},
		{"too large", `{"skewNanoseconds": 86400000000001}`, hmacHex(secret, []byte(`{"skewNanoseconds": 86400000000001}`)), http.StatusBadRequest, "beyond"},
		{"too negative", `{"skewNanoseconds": -86400000000001}`, hmacHex(secret, []byte(`{"skewNanoseconds": -86400000000001}`)), http.StatusBadRequest, "beyond"},
	} {
		status, body := putSkew(t, s, tc.body, tc.sig)
		if status != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %q; want %d mentioning %q", tc.name, status, body, tc.status, tc.want)
		}
	}
	if d := getSkew(t, s); d != 0 {
		t.Fatalf("rejected requests changed the skew to %v", d)
	}
	// Upper-case hex is the same signature.
	if status, body := putSkew(t, s, good, strings.ToUpper(hmacHex(secret, []byte(good)))); status != http.StatusOK {
		t.Fatalf("signed PUT: %d %q", status, body)
	}
	if d := getSkew(t, s); d != 90*time.Second || s.ClockSkew() != 90*time.Second {
		t.Fatalf("skew after PUT: GET %v, site %v", d, s.ClockSkew())
	}
	// The other methods are refused; the replication API is still there.
	resp, err := http.Post(s.InternalURL()+site.ClockSkewPath, "application/json", strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %d", resp.StatusCode)
	}
	resp, err = http.Get(s.InternalURL() + replication.StatusPath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("replication status behind the mux: %d", resp.StatusCode)
	}
}

// TestSetRemoteClockSkew skews a site through its internal API and sees
// its clock move: the Last-Modified of a new object is in the skewed time.
func TestSetRemoteClockSkew(t *testing.T) {
	ctx := context.Background()
	secret := site.GenerateSecret()
	s := replicatingSite(t, secret)
	c := s3Client(t, s, true)
	if err := c.MakeBucket(ctx, "skewed", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	lastModified := func(key string) time.Time {
		t.Helper()
		if _, err := c.PutObject(ctx, "skewed", key, bytes.NewReader([]byte("x")), 1, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		info, err := c.StatObject(ctx, "skewed", key, minio.StatObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return info.LastModified
	}
	for _, skew := range []time.Duration{2 * time.Hour, -3 * time.Hour} {
		if err := site.SetRemoteClockSkew(ctx, nil, s.InternalURL()+"/", secret, skew); err != nil {
			t.Fatal(err)
		}
		got, err := site.RemoteClockSkew(ctx, nil, s.InternalURL())
		if err != nil || got != skew {
			t.Fatalf("RemoteClockSkew: %v %v; want %v", got, err, skew)
		}
		lm := lastModified("after-" + skew.String())
		// Last-Modified has second precision; allow for it and slow machines.
		if off := lm.Sub(time.Now()); off < skew-time.Minute || off > skew+time.Minute {
			t.Fatalf("skew %v: Last-Modified %v is %v from now", skew, lm, off)
		}
	}
	if err := site.SetRemoteClockSkew(ctx, nil, s.InternalURL(), secret, 0); err != nil {
		t.Fatal(err)
	}
	if off := lastModified("restored").Sub(time.Now()); off < -time.Minute || off > time.Minute {
		t.Fatalf("restored clock is %v off", off)
	}

	// Errors name the URL and the HTTP status with the site's message.
	err := site.SetRemoteClockSkew(ctx, nil, s.InternalURL(), []byte("wrong"), time.Hour)
	if err == nil || !strings.Contains(err.Error(), s.InternalURL()) || !strings.Contains(err.Error(), "401") ||
		!strings.Contains(err.Error(), "does not match") {
		t.Fatalf("wrong secret: %v", err)
	}
	if err := site.SetRemoteClockSkew(ctx, nil, s.InternalURL(), secret, 25*time.Hour); err == nil || !strings.Contains(err.Error(), "beyond") {
		t.Fatalf("too large: %v", err)
	}
	if s.ClockSkew() != 0 {
		t.Fatalf("failed calls changed the skew to %v", s.ClockSkew())
	}
	// A site without replication has no internal API to reach.
	plain := startSite(t, site.Config{})
	if err := site.SetRemoteClockSkew(ctx, nil, plain.URL(false), secret, time.Hour); err == nil ||
		!strings.Contains(err.Error(), plain.URL(false)) {
		t.Fatalf("non-internal URL: %v", err)
	}
}

// TestClockSkewSurvivesRestart: the skew is the machine's clock, not the
// process's state, so a crash and restart keeps it.
func TestClockSkewSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	secret := site.GenerateSecret()
	s := replicatingSite(t, secret)
	if err := site.SetRemoteClockSkew(ctx, nil, s.InternalURL(), secret, time.Hour); err != nil {
		t.Fatal(err)
	}
	s.Crash(ctx)
	if err := s.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if d := getSkew(t, s); d != time.Hour {
		t.Fatalf("skew after restart %v", d)
	}
}
