package swiftapi

import (
	"encoding/json"
	"net/http"
)

// serveInfo answers GET /info, Swift's capability document, which clients
// (swift capabilities, ncw's QueryInfo) read to learn limits. It lists no
// middleware this front end does not implement (slo, dlo, bulk, tempurl).
func (h *handler) serveInfo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		h.plain(w, r, http.StatusMethodNotAllowed, "Method not allowed: "+r.Method)
		return
	}
	type policy struct {
		Name    string `json:"name"`
		Aliases string `json:"aliases"`
		Default bool   `json:"default,omitempty"`
	}
	var policies []policy
	for _, p := range h.cfg.Policies {
		policies = append(policies, policy{Name: p, Aliases: p, Default: p == h.cfg.DefaultPolicy})
	}
	body, _ := json.Marshal(map[string]any{
		"swift": map[string]any{
			"version":                   "2.34.0",
			"max_file_size":             int64(maxFileSize),
			"max_meta_name_length":      maxMetaNameLength,
			"max_meta_value_length":     maxMetaValueLength,
			"max_meta_count":            maxMetaCount,
			"max_meta_overall_size":     maxMetaOverallSize,
			"max_header_size":           maxHeaderSize,
			"max_object_name_length":    maxObjectNameLength,
			"max_container_name_length": maxContainerNameLen,
			"max_account_name_length":   256,
			"container_listing_limit":   listingLimit,
			"account_listing_limit":     listingLimit,
			"extra_header_count":        0,
			"valid_api_versions":        []string{"v1"},
			"policies":                  policies,
			"strict_cors_mode":          true,
			"allow_account_management":  false,
			"account_autocreate":        true,
		},
		"tempauth": map[string]any{"account_acls": false},
	})
	writeBody(w, r, http.StatusOK, "application/json; charset=utf-8", body)
}
