package site

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// The clock-skew control of the internal API. A site in its own process or
// container cannot be skewed with SetClockSkew from the harness, so the
// internal listener (present when replication is configured) offers the
// same over HTTP:
//
//	GET ClockSkewPath → {"skewNanoseconds": N}
//	PUT ClockSkewPath   {"skewNanoseconds": N}, signed
//
// A PUT is signed like a replication shipment: SignatureHeader carries the
// hex HMAC-SHA256 of the body under the replication secret. Reading the
// skew needs no secret: it reveals nothing the site's timestamps do not.
const (
	ClockSkewPath   = "/replcheck/v1/clock-skew"
	SignatureHeader = "X-Replcheck-Signature"
	// MaxClockSkew bounds a remote skew: more is a typo, not a fault.
	MaxClockSkew = 24 * time.Hour
)

// clockSkewMaxBody bounds a PUT body; a valid one is a few dozen bytes.
const clockSkewMaxBody = 4 << 10

// ClockSkew is the body of a clock-skew request and response.
type ClockSkew struct {
	SkewNanoseconds *int64 `json:"skewNanoseconds"`
	// Skew is SkewNanoseconds as a Go duration, in responses only (for
	// people reading it with curl); a PUT ignores it.
	Skew string `json:"skew,omitempty"`
}

// ClockSkew returns the site's current clock skew.
func (s *Site) ClockSkew() time.Duration { return time.Duration(s.skew.Load()) }

// signBody is the hex HMAC-SHA256 of body under secret.
func signBody(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// clockSkewHandler serves ClockSkewPath on the internal listener.
func (s *Site) clockSkewHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			s.writeSkew(w)
		case http.MethodPut:
			s.putSkew(w, r)
		default:
			w.Header().Set("Allow", "GET, HEAD, PUT")
			http.Error(w, "clock skew: use GET to read it or PUT to set it", http.StatusMethodNotAllowed)
		}
	})
}

func (s *Site) writeSkew(w http.ResponseWriter) {
	d := s.ClockSkew()
	n := int64(d)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(ClockSkew{SkewNanoseconds: &n, Skew: d.String()})
}

func (s *Site) putSkew(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, clockSkewMaxBody))
	if err != nil {
		http.Error(w, fmt.Sprintf("clock skew: reading the body: %v", err), http.StatusBadRequest)
		return
	}
	// Authenticate before looking at the content: an unauthenticated
	// client learns nothing about what a valid body looks like.
	sig := r.Header.Get(SignatureHeader)
	if sig == "" {
		http.Error(w, "clock skew: missing "+SignatureHeader+" header (hex HMAC-SHA256 of the body under the replication secret)",
			http.StatusUnauthorized)
		return
	}
	if !hmac.Equal([]byte(strings.ToLower(sig)), []byte(signBody(s.cfg.Replication.Secret, body))) {
		http.Error(w, "clock skew: "+SignatureHeader+" does not match: the body is not signed with this site's replication secret",
			http.StatusUnauthorized)
		return
	}
	var req ClockSkew
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		http.Error(w, fmt.Sprintf(`clock skew: body must be {"skewNanoseconds": N}: %v`, err), http.StatusBadRequest)
		return
	}
	if dec.More() {
		http.Error(w, "clock skew: trailing data after the JSON object", http.StatusBadRequest)
		return
	}
	if req.SkewNanoseconds == nil {
		http.Error(w, `clock skew: body must be {"skewNanoseconds": N}: skewNanoseconds is missing`, http.StatusBadRequest)
		return
	}
	d := time.Duration(*req.SkewNanoseconds)
	if d > MaxClockSkew || d < -MaxClockSkew {
		http.Error(w, fmt.Sprintf("clock skew: %v is beyond ±%v", d, MaxClockSkew), http.StatusBadRequest)
		return
	}
	s.SetClockSkew(d)
	s.cfg.Logger.Info("clock skew set", "site", s.cfg.Name, "skew", d.String(), "from", r.RemoteAddr)
	s.writeSkew(w)
}

// internalHandler is the internal listener's handler: the replication API
// and the clock-skew control.
func (s *Site) internalHandler(repl http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(ClockSkewPath, s.clockSkewHandler())
	mux.Handle("/", repl)
	return mux
}

// SetRemoteClockSkew sets the clock skew of the site whose internal API is
// at internalURL (e.g. http://127.0.0.1:9100), signing the request with the
// replication secret. hc nil means http.DefaultClient. A paused site
// answers when it is resumed, or never; bound the wait with ctx.
func SetRemoteClockSkew(ctx context.Context, hc *http.Client, internalURL string, secret []byte, d time.Duration) error {
	if d > MaxClockSkew || d < -MaxClockSkew {
		return fmt.Errorf("set clock skew of %s: %v is beyond ±%v", internalURL, d, MaxClockSkew)
	}
	n := int64(d)
	body, err := json.Marshal(ClockSkew{SkewNanoseconds: &n})
	if err != nil {
		return fmt.Errorf("set clock skew of %s: %w", internalURL, err)
	}
	u := strings.TrimSuffix(internalURL, "/") + ClockSkewPath
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("set clock skew of %s: %w", internalURL, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(SignatureHeader, signBody(secret, body))
	_, err = doSkew(hc, req)
	if err != nil {
		return fmt.Errorf("set clock skew of %s: %w", internalURL, err)
	}
	return nil
}

// RemoteClockSkew reads the clock skew of the site whose internal API is
// at internalURL. hc nil means http.DefaultClient.
func RemoteClockSkew(ctx context.Context, hc *http.Client, internalURL string) (time.Duration, error) {
	u := strings.TrimSuffix(internalURL, "/") + ClockSkewPath
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, fmt.Errorf("read clock skew of %s: %w", internalURL, err)
	}
	d, err := doSkew(hc, req)
	if err != nil {
		return 0, fmt.Errorf("read clock skew of %s: %w", internalURL, err)
	}
	return d, nil
}

// doSkew sends a clock-skew request and decodes the skew in the answer.
func doSkew(hc *http.Client, req *http.Request) (time.Duration, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, clockSkewMaxBody))
	if err != nil {
		return 0, fmt.Errorf("%s %s: HTTP %s: reading the answer: %w", req.Method, req.URL.Path, resp.Status, err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s %s: HTTP %s: %s", req.Method, req.URL.Path, resp.Status, strings.TrimSpace(string(data)))
	}
	var got ClockSkew
	if err := json.Unmarshal(data, &got); err != nil || got.SkewNanoseconds == nil {
		return 0, fmt.Errorf("%s %s: HTTP %s: not a clock-skew answer: %q", req.Method, req.URL.Path, resp.Status, data)
	}
	return time.Duration(*got.SkewNanoseconds), nil
}
