package swiftapi

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/replcheck/replcheck/engine/sse"
	"github.com/replcheck/replcheck/engine/store"
)

func (h *handler) serveContainer(rq *request) {
	switch rq.r.Method {
	case http.MethodGet, http.MethodHead:
		h.getContainer(rq)
	case http.MethodPut:
		h.putContainer(rq)
	case http.MethodPost:
		h.postContainer(rq)
	case http.MethodDelete:
		h.deleteContainer(rq)
	default:
		h.notAllowed(rq, "GET, HEAD, PUT, POST, DELETE")
	}
}

func (h *handler) putContainer(rq *request) {
	name := rq.container
	if len(name) > maxContainerNameLen {
		h.fail(rq, http.StatusBadRequest, "Container name length of %d longer than %d", len(name), maxContainerNameLen)
		return
	}
	if !store.ValidBucketName(name) {
		h.fail(rq, http.StatusBadRequest, "Invalid container name %q", name)
		return
	}
	mu, msg := parseMeta(rq.r.Header, containerMetaPrefix, removeContainerMetaPrefix)
	if msg != "" {
		h.fail(rq, http.StatusBadRequest, "%s", msg)
		return
	}
	asked := strings.TrimSpace(rq.r.Header.Get("X-Storage-Policy"))
	policy := h.cfg.DefaultPolicy
	if asked != "" {
		p, ok := h.canonicalPolicy(asked)
		if !ok {
			h.fail(rq, http.StatusBadRequest, "%s", h.cfg.PolicyError(asked))
			return
		}
		policy = p
	}
	b, err := h.st.CreateBucket(name, store.BucketOptions{Policy: policy, Replicated: h.cfg.Replicated, Meta: nilIfEmpty(mu.set)})
	switch {
	case errors.Is(err, store.ErrBucketExists):
		if asked != "" && h.policyOf(b) != policy {
			h.fail(rq, http.StatusConflict, "Conflict: container %s exists with storage policy %q, not %q", name, h.policyOf(b), policy)
			return
		}
		// Swift updates an existing container's metadata on PUT.
		if len(mu.set) > 0 || len(mu.remove) > 0 {
			if err := h.st.UpdateBucketMeta(name, mu.set, mu.remove); err != nil {
				h.storeError(rq, err)
				return
			}
		}
		noBody(rq.w, http.StatusAccepted)
	case err != nil:
		h.storeError(rq, err)
	default:
		noBody(rq.w, http.StatusCreated)
	}
}

func (h *handler) postContainer(rq *request) {
	mu, msg := parseMeta(rq.r.Header, containerMetaPrefix, removeContainerMetaPrefix)
	if msg != "" {
		h.fail(rq, http.StatusBadRequest, "%s", msg)
		return
	}
	if err := h.st.UpdateBucketMeta(rq.container, mu.set, mu.remove); err != nil {
		h.storeError(rq, err)
		return
	}
	noBody(rq.w, http.StatusNoContent)
}

func (h *handler) deleteContainer(rq *request) {
	if err := h.st.DeleteBucket(rq.container); err != nil {
		h.storeError(rq, err)
		return
	}
	noBody(rq.w, http.StatusNoContent)
}

func (h *handler) getContainer(rq *request) {
	lp, status, msg := parseListParams(rq.r)
	if status != 0 {
		h.fail(rq, status, "%s", msg)
		return
	}
	b, err := h.st.GetBucket(rq.container)
	if err != nil {
		h.storeError(rq, err)
		return
	}
	hd := rq.w.Header()
	hd.Set("X-Container-Object-Count", strconv.FormatInt(b.Objects, 10))
	hd.Set("X-Container-Bytes-Used", strconv.FormatInt(b.Bytes, 10))
	hd.Set("X-Storage-Policy", h.policyOf(b))
	hd.Set("X-Timestamp", xTimestamp(b.Created))
	hd.Set("X-Put-Timestamp", xTimestamp(b.Created))
	hd.Set("Last-Modified", httpDate(b.Created))
	hd.Set("Accept-Ranges", "bytes")
	setMetaHeaders(hd, containerMetaPrefix, b.Meta)
	if rq.head() {
		hd.Set("Content-Type", lp.format+"; charset=utf-8")
		rq.w.WriteHeader(http.StatusNoContent)
		return
	}
	entries, err := h.listObjects(rq.container, lp)
	if err != nil {
		h.storeError(rq, err)
		return
	}
	writeListing(rq, lp, "container", rq.container, entries)
}

// listObjects selects one page of a container's listing. With path, only
// the objects directly under it are listed (directory markers such as
// "a/b/" included), no subdirs, as Swift's path parameter does.
func (h *handler) listObjects(container string, lp listParams) ([]listEntry, error) {
	opts := store.ListOptions{Prefix: lp.prefix, Delimiter: lp.delimiter, After: lp.marker, Before: lp.endMarker}
	if lp.hasPath {
		opts.Prefix, opts.Delimiter = "", "/"
		if lp.path != "" {
			opts.Prefix = strings.TrimRight(lp.path, "/") + "/"
		}
	}
	var out []listEntry
	for len(out) < lp.limit {
		opts.MaxKeys = lp.limit - len(out)
		res, err := h.st.ListObjects(container, opts)
		if err != nil {
			return nil, err
		}
		// Objects and subdirs come sorted separately; Swift interleaves them.
		i, j := 0, 0
		for i < len(res.Objects) || j < len(res.CommonPrefixes) {
			if j == len(res.CommonPrefixes) || i < len(res.Objects) && res.Objects[i].Key < res.CommonPrefixes[j] {
				v := res.Objects[i]
				i++
				if lp.hasPath && v.Key == opts.Prefix {
					continue // Swift's path listing leaves out the directory marker itself
				}
				out = append(out, objectEntry(v))
				continue
			}
			cp := res.CommonPrefixes[j]
			j++
			if !lp.hasPath {
				out = append(out, listEntry{subdir: cp})
			} else if v, err := h.st.GetObject(container, cp, ""); err == nil {
				// A directory marker object ("a/b/") is directly under the path.
				out = append(out, objectEntry(v))
			}
		}
		if !res.IsTruncated || !lp.hasPath {
			break
		}
		opts.After = res.Next
	}
	return out, nil
}

func objectEntry(v *store.Version) listEntry {
	e := listEntry{name: v.Key, fields: []listField{
		{"hash", v.ETag},
		{"bytes", v.Size},
		{"content_type", contentType(v)},
		{"last_modified", isoTime(v.ModTime)},
	}}
	if etag, large := swiftETag(v); large {
		e.fields = append(e.fields, listField{"slo_etag", etag})
	}
	return e
}

// swiftETag is the ETag Swift shows for v. When the stored ETag is not the
// MD5 of the plaintext (multipart objects, and SSE modes whose ETag is
// opaque), it is quoted and the object is flagged as a static large object,
// which is how Swift tells clients not to check the body's MD5 against it.
func swiftETag(v *store.Version) (etag string, large bool) {
	mode := sse.None
	if v.SSE != nil {
		mode = v.SSE.Mode
	}
	if !v.Multipart && sse.ETagIsPlainMD5(mode) {
		return v.ETag, false
	}
	return `"` + v.ETag + `"`, true
}

func contentType(v *store.Version) string {
	if v.ContentType == "" {
		return "application/octet-stream"
	}
	return v.ContentType
}
