package swiftapi

import (
	"net/http"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/replcheck/replcheck/engine/store"
)

func (h *handler) serveAccount(rq *request) {
	switch rq.r.Method {
	case http.MethodGet, http.MethodHead:
		h.getAccount(rq)
	default:
		// Account metadata and account management are not offered: the
		// store has no accounts, only the site's one namespace.
		h.notAllowed(rq, "GET, HEAD")
	}
}

func (h *handler) getAccount(rq *request) {
	lp, status, msg := parseListParams(rq.r)
	if status != 0 {
		h.fail(rq, status, "%s", msg)
		return
	}
	buckets := h.st.ListBuckets()
	hd := rq.w.Header()
	var objects, bytes int64
	created := h.started
	type policyStats struct{ containers, objects, bytes int64 }
	perPolicy := map[string]*policyStats{}
	for _, b := range buckets {
		objects += b.Objects
		bytes += b.Bytes
		if b.Created.Before(created) {
			created = b.Created
		}
		p := h.policyOf(b)
		ps := perPolicy[p]
		if ps == nil {
			ps = &policyStats{}
			perPolicy[p] = ps
		}
		ps.containers++
		ps.objects += b.Objects
		ps.bytes += b.Bytes
	}
	hd.Set("X-Account-Container-Count", strconv.Itoa(len(buckets)))
	hd.Set("X-Account-Object-Count", strconv.FormatInt(objects, 10))
	hd.Set("X-Account-Bytes-Used", strconv.FormatInt(bytes, 10))
	for p, ps := range perPolicy {
		if !validToken(p) {
			continue
		}
		pre := textproto.CanonicalMIMEHeaderKey("X-Account-Storage-Policy-" + p)
		hd.Set(pre+"-Container-Count", strconv.FormatInt(ps.containers, 10))
		hd.Set(pre+"-Object-Count", strconv.FormatInt(ps.objects, 10))
		hd.Set(pre+"-Bytes-Used", strconv.FormatInt(ps.bytes, 10))
	}
	hd.Set("X-Timestamp", xTimestamp(created))
	hd.Set("X-Put-Timestamp", xTimestamp(created))
	hd.Set("Accept-Ranges", "bytes")
	if rq.head() {
		hd.Set("Content-Type", lp.format+"; charset=utf-8")
		rq.w.WriteHeader(http.StatusNoContent)
		return
	}
	writeListing(rq, lp, "account", rq.account, listBuckets(buckets, lp))
}

// listBuckets selects one page of containers, as Swift's account listing.
func listBuckets(buckets []store.Bucket, lp listParams) []listEntry {
	prefix, delimiter := lp.prefix, lp.delimiter
	var out []listEntry
	lastSubdir := ""
	for _, b := range buckets {
		if len(out) >= lp.limit {
			break
		}
		name := b.Name
		if !strings.HasPrefix(name, prefix) || name <= lp.marker || (lp.endMarker != "" && name >= lp.endMarker) {
			continue
		}
		if sd, ok := rollUp(name, prefix, delimiter); ok {
			if sd == lastSubdir || sd <= lp.marker {
				continue
			}
			lastSubdir = sd
			out = append(out, listEntry{subdir: sd})
			continue
		}
		out = append(out, listEntry{name: name, fields: []listField{
			{"count", b.Objects}, {"bytes", b.Bytes}, {"last_modified", isoTime(b.Created)},
		}})
	}
	return out
}

// policyOf is a bucket's storage policy; buckets made without one have the default.
func (h *handler) policyOf(b store.Bucket) string {
	if b.Policy != "" {
		return b.Policy
	}
	return h.cfg.DefaultPolicy
}

// canonicalPolicy finds the endpoint's policy named p, ignoring case as Swift does.
func (h *handler) canonicalPolicy(p string) (string, bool) {
	for _, q := range h.cfg.Policies {
		if strings.EqualFold(p, q) {
			return q, h.cfg.PolicyAllowed(q)
		}
	}
	return "", false
}
