package swiftapi

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/replcheck/replcheck/engine/endpoint"
)

// tokenTTL is how long a TempAuth token lives (TempAuth's token_life default).
const tokenTTL = 24 * time.Hour

// session is an issued token.
type session struct {
	token   string
	user    endpoint.User
	expires time.Time
}

// tempAuth issues and checks tokens in memory, as TempAuth does in memcache.
type tempAuth struct {
	now     func() time.Time
	mu      sync.Mutex
	byToken map[string]*session
	byUser  map[string]*session // "account:user" → its current token
}

func newTempAuth(now func() time.Time) *tempAuth {
	return &tempAuth{now: now, byToken: map[string]*session{}, byUser: map[string]*session{}}
}

// issue returns the user's current token, or a new one when it has none,
// it expired or fresh is set (X-Auth-New-Token), like TempAuth.
func (a *tempAuth) issue(u endpoint.User, fresh bool) session {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	name := u.Account + ":" + u.Name
	if s := a.byUser[name]; s != nil && !fresh && now.Before(s.expires) {
		return *s
	}
	// Expired tokens go on issue, so the maps stay bounded by live users.
	for t, s := range a.byToken {
		if !now.Before(s.expires) {
			delete(a.byToken, t)
			if a.byUser[s.user.Account+":"+s.user.Name] == s {
				delete(a.byUser, s.user.Account+":"+s.user.Name)
			}
		}
	}
	var b [16]byte
	rand.Read(b[:])
	s := &session{token: resellerPrefix + "tk" + hex.EncodeToString(b[:]), user: u, expires: now.Add(tokenTTL)}
	a.byToken[s.token] = s
	a.byUser[name] = s
	return *s
}

// lookup returns the user a live token belongs to.
func (a *tempAuth) lookup(token string) (endpoint.User, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.byToken[token]
	if s == nil || !a.now().Before(s.expires) {
		return endpoint.User{}, false
	}
	return s.user, true
}

// serveAuth answers TempAuth's GET /auth/v1.0.
func (h *handler) serveAuth(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		h.plain(w, r, http.StatusBadRequest, "Bad request: authentication takes GET")
		return
	}
	name := r.Header.Get("X-Storage-User")
	if name == "" {
		name = r.Header.Get("X-Auth-User")
	}
	key := r.Header.Get("X-Storage-Pass")
	if key == "" {
		key = r.Header.Get("X-Auth-Key")
	}
	u, ok := h.cfg.LookupSwiftUser(name)
	if name == "" || key == "" || !strings.Contains(name, ":") || !ok || u.SecretKey == "" ||
		subtle.ConstantTimeCompare([]byte(key), []byte(u.SecretKey)) != 1 {
		w.Header().Set("Www-Authenticate", `Swift realm="unknown"`)
		h.plain(w, r, http.StatusUnauthorized, "Unauthorized: wrong user or key")
		return
	}
	fresh, _ := strconv.ParseBool(r.Header.Get("X-Auth-New-Token"))
	s := h.auth.issue(u, fresh)
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := r.Host
	if host == "" {
		host = "localhost"
	}
	storageURL := scheme + "://" + host + "/v1/" + url.PathEscape(resellerPrefix+u.Account)
	hd := w.Header()
	hd.Set("X-Auth-Token", s.token)
	hd.Set("X-Storage-Token", s.token)
	hd.Set("X-Storage-Url", storageURL)
	left := math.Ceil(s.expires.Sub(h.auth.now()).Seconds())
	hd.Set("X-Auth-Token-Expires", strconv.FormatInt(int64(max(left, 0)), 10))
	body, _ := json.Marshal(map[string]any{"storage": map[string]string{"default": "local", "local": storageURL}})
	writeBody(w, r, http.StatusOK, "application/json; charset=UTF-8", body)
}
