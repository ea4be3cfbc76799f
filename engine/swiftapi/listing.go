package swiftapi

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// listParams are the query parameters of an account or container listing.
type listParams struct {
	prefix, delimiter, marker, endMarker string
	limit                                int
	path                                 string
	hasPath                              bool
	format                               string // text/plain, application/json, application/xml or text/xml
}

// parseListParams reads a listing's parameters as Swift does. On refusal it
// returns the status and message.
func parseListParams(r *http.Request) (listParams, int, string) {
	q, _ := url.ParseQuery(r.URL.RawQuery) // keep what parses, as Swift's parse_qsl does
	lp := listParams{limit: listingLimit}
	for _, name := range []string{"prefix", "delimiter", "marker", "end_marker", "path", "limit", "format"} {
		if v := q.Get(name); !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
			return lp, http.StatusBadRequest, fmt.Sprintf("%q parameter not valid UTF-8", name)
		}
	}
	lp.prefix, lp.delimiter = q.Get("prefix"), q.Get("delimiter")
	lp.marker, lp.endMarker = q.Get("marker"), q.Get("end_marker")
	if lp.delimiter != "" && (utf8.RuneCountInString(lp.delimiter) > 1 || []rune(lp.delimiter)[0] > 254) {
		return lp, http.StatusPreconditionFailed, "Bad delimiter"
	}
	if _, ok := q["path"]; ok {
		lp.path, lp.hasPath = q.Get("path"), true
	}
	// Like Swift's constrain_req_limit: only digits count, too many is refused.
	if s := q.Get("limit"); s != "" && isDigits(s) {
		n, err := strconv.Atoi(s)
		if err != nil || n > listingLimit {
			return lp, http.StatusPreconditionFailed, fmt.Sprintf("Maximum limit is %d", listingLimit)
		}
		lp.limit = n
	}
	accept := r.Header.Get("Accept")
	if f, ok := q["format"]; ok {
		switch strings.ToLower(f[0]) {
		case "json":
			accept = "application/json"
		case "xml":
			accept = "application/xml"
		default:
			accept = "text/plain"
		}
	}
	format, ok := negotiate(accept)
	if !ok {
		return lp, http.StatusNotAcceptable, "Not Acceptable: listings are text/plain, application/json or application/xml"
	}
	lp.format = format
	return lp, 0, ""
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

var listingOffers = []string{"text/plain", "application/json", "application/xml", "text/xml"}

// negotiate picks the listing format an Accept header prefers: highest q,
// most specific range, Swift's order on ties. No header means text/plain.
func negotiate(accept string) (string, bool) {
	if strings.TrimSpace(accept) == "" {
		return "text/plain", true
	}
	best, bestQ := "", 0.0
	for _, offer := range listingOffers {
		q, spec := 0.0, -1
		for _, part := range strings.Split(accept, ",") {
			mr, params, _ := strings.Cut(part, ";")
			mr = strings.ToLower(strings.TrimSpace(mr))
			pq := 1.0
			for _, p := range strings.Split(params, ";") {
				k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.EqualFold(k, "q") {
					f, err := strconv.ParseFloat(v, 64)
					if err != nil || f < 0 || f > 1 {
						f = 0
					}
					pq = f
				}
			}
			s := -1
			switch typ, _, _ := strings.Cut(offer, "/"); mr {
			case offer:
				s = 2
			case typ + "/*":
				s = 1
			case "*/*", "*":
				s = 0
			}
			if s > spec {
				spec, q = s, pq
			}
		}
		if q > bestQ {
			best, bestQ = offer, q
		}
	}
	return best, best != ""
}

// listEntry is an object, container or subdir of a listing, for output.
type listEntry struct {
	subdir string
	name   string
	fields []listField // JSON and XML fields after the name, in order
}

type listField struct {
	key string
	val any // string or int64
}

// writeListing answers with entries in lp.format; Swift answers an empty
// plain listing with 204. root is "account" or "container", named rootName.
func writeListing(rq *request, lp listParams, root, rootName string, entries []listEntry) {
	var buf bytes.Buffer
	switch lp.format {
	case "text/plain":
		if len(entries) == 0 {
			rq.w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			rq.w.WriteHeader(http.StatusNoContent)
			return
		}
		for _, e := range entries {
			if e.subdir != "" {
				buf.WriteString(e.subdir)
			} else {
				buf.WriteString(e.name)
			}
			buf.WriteByte('\n')
		}
	case "application/json":
		buf.WriteByte('[')
		for i, e := range entries {
			if i > 0 {
				buf.WriteByte(',')
			}
			if e.subdir != "" {
				buf.WriteString(`{"subdir":`)
				writeJSONString(&buf, e.subdir)
				buf.WriteByte('}')
				continue
			}
			buf.WriteString(`{"name":`)
			writeJSONString(&buf, e.name)
			for _, f := range e.fields {
				buf.WriteString(`,"` + f.key + `":`)
				switch v := f.val.(type) {
				case int64:
					buf.WriteString(strconv.FormatInt(v, 10))
				case string:
					writeJSONString(&buf, v)
				}
			}
			buf.WriteByte('}')
		}
		buf.WriteByte(']')
	default: // XML
		buf.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
		buf.WriteString("<" + root + ` name="`)
		xml.EscapeText(&buf, []byte(rootName))
		buf.WriteString(`">`)
		item := "object"
		if root == "account" {
			item = "container"
		}
		for _, e := range entries {
			if e.subdir != "" {
				buf.WriteString(`<subdir name="`)
				xml.EscapeText(&buf, []byte(e.subdir))
				buf.WriteString(`"><name>`)
				xml.EscapeText(&buf, []byte(e.subdir))
				buf.WriteString(`</name></subdir>`)
				continue
			}
			buf.WriteString("<" + item + "><name>")
			xml.EscapeText(&buf, []byte(e.name))
			buf.WriteString("</name>")
			for _, f := range e.fields {
				buf.WriteString("<" + f.key + ">")
				switch v := f.val.(type) {
				case int64:
					buf.WriteString(strconv.FormatInt(v, 10))
				case string:
					xml.EscapeText(&buf, []byte(v))
				}
				buf.WriteString("</" + f.key + ">")
			}
			buf.WriteString("</" + item + ">")
		}
		buf.WriteString("</" + root + ">")
	}
	writeBody(rq.w, rq.r, http.StatusOK, lp.format+"; charset=utf-8", buf.Bytes())
}

func writeJSONString(buf *bytes.Buffer, s string) {
	b, _ := json.Marshal(s)
	buf.Write(b)
}

// rollUp returns the subdir name rolls up into under prefix and delimiter, if any.
func rollUp(name, prefix, delimiter string) (string, bool) {
	if delimiter == "" || !strings.HasPrefix(name, prefix) {
		return "", false
	}
	i := strings.Index(name[len(prefix):], delimiter)
	if i < 0 {
		return "", false
	}
	return name[:len(prefix)+i+len(delimiter)], true
}
