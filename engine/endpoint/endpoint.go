// Package endpoint describes one endpoint of a site: what the S3 and Swift
// front ends serving it need to know besides the store (its name, whether
// buckets created through it replicate, which storage policies it offers,
// and who may use it).
package endpoint

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/replcheck/replcheck/engine/sse"
)

// Storage policies (flavors) a site offers.
const (
	PolicyHPIntensive = "hp.intensive"
	PolicyGPRecurring = "gp.recurring"
	PolicyStandard    = "standard"
	PolicyArchiveCold = "archive.cold"
)

// ReplicatedPolicies are the only policies a replicated endpoint accepts.
var ReplicatedPolicies = []string{PolicyHPIntensive, PolicyGPRecurring}

// SitePolicies are every policy a site offers on its non-replicated endpoint.
var SitePolicies = []string{PolicyHPIntensive, PolicyGPRecurring, PolicyStandard, PolicyArchiveCold}

// User is an account's credentials. S3 signs with AccessKey/SecretKey; Swift
// TempAuth authenticates as "Account:Name" with SecretKey as its key.
type User struct {
	Account   string
	Name      string
	AccessKey string
	SecretKey string
}

// String never shows the secret.
func (u User) String() string {
	return fmt.Sprintf("%s:%s (access key %s)", u.Account, u.Name, u.AccessKey)
}

// Config is one endpoint's configuration.
type Config struct {
	Site          string // site name, e.g. europe-se-1a
	Region        string // S3 region, e.g. europe-se-1
	Replicated    bool   // buckets created here replicate
	Policies      []string
	DefaultPolicy string
	Users         []User
	Keyring       *sse.Keyring
	// Domains lets S3 clients use virtual-hosted style: a Host of
	// "<bucket>.<domain>" addresses that bucket. Path style always works.
	Domains []string
	Logger  *slog.Logger // nil discards
}

// Name is "replicated" or "non-replicated".
func (c *Config) Name() string {
	if c.Replicated {
		return "replicated"
	}
	return "non-replicated"
}

// PolicyAllowed reports whether buckets may be created here with policy p.
func (c *Config) PolicyAllowed(p string) bool { return slices.Contains(c.Policies, p) }

// PolicyError explains why policy p is refused.
func (c *Config) PolicyError(p string) string {
	if c.Replicated && slices.Contains(SitePolicies, p) {
		return fmt.Sprintf("storage policy %q is not available for replication; the replicated endpoint offers %s",
			p, strings.Join(c.Policies, ", "))
	}
	return fmt.Sprintf("unknown storage policy %q; this endpoint offers %s", p, strings.Join(c.Policies, ", "))
}

// LookupAccessKey finds a user by S3 access key.
func (c *Config) LookupAccessKey(key string) (User, bool) {
	for _, u := range c.Users {
		if u.AccessKey == key {
			return u, true
		}
	}
	return User{}, false
}

// LookupSwiftUser finds a user by TempAuth name "account:user".
func (c *Config) LookupSwiftUser(name string) (User, bool) {
	for _, u := range c.Users {
		if u.Account+":"+u.Name == name {
			return u, true
		}
	}
	return User{}, false
}

// Log returns the endpoint's logger, never nil.
func (c *Config) Log() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}
