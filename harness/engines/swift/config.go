package swift

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Realm is the container-sync realm both clusters belong to.
const Realm = "REPLCHECK"

// Account and user of the tempauth user the topology creates; the account
// is AUTH_<Account>.
const (
	Account = "test"
	User    = "tester"
)

// ports are one cluster's listening ports, all on 127.0.0.1.
type ports struct {
	Proxy, Account, Container, Object, Memcached int
}

// clusterConf is what the config files of one cluster need.
type clusterConf struct {
	Dir          string // swift_dir: swift.conf, rings, server configs
	Devices      string // devices root; the one device is Devices/d1
	Cluster      string // this cluster's name in the realm
	Peer         string // the other cluster's name in the realm
	PeerSyncURL  string // http://<WAN proxy to the peer>/v1/
	SelfURL      string // http://<own proxy>/v1/
	RealmKey     string
	HashPrefix   string
	HashSuffix   string
	Key          string // tempauth key of Account:User
	RootSecret   string // base64 keymaster root secret, 32 bytes
	SyncInterval time.Duration
	Ports        ports
	RunUser      string
}

// writeConfigs writes swift.conf, container-sync-realms.conf, the four
// server configs and the internal-client config of the container-sync
// daemon into c.Dir. Nothing is read from /etc/swift: every file names
// swift_dir explicitly.
func writeConfigs(c clusterConf) error {
	if err := os.MkdirAll(filepath.Join(c.Devices, "d1"), 0o700); err != nil {
		return err
	}
	common := fmt.Sprintf(`[DEFAULT]
swift_dir = %s
devices = %s
mount_check = false
bind_ip = 127.0.0.1
# workers = 0: one process per server, no forking (2-core hosts).
workers = 0
user = %s
log_level = INFO
disable_fallocate = true
`, c.Dir, c.Devices, c.RunUser)
	// At-rest encryption with a static root secret: s3api then accepts
	// SSE-S3 (AES256). The container-sync daemon's internal client needs
	// it too, or it would read and ship ciphertext.
	encryption := fmt.Sprintf(`
[filter:keymaster]
use = egg:swift#keymaster
encryption_root_secret = %s

[filter:encryption]
use = egg:swift#encryption
`, c.RootSecret)
	interval := max(1, int(c.SyncInterval.Round(time.Second)/time.Second))
	files := map[string]string{
		"swift.conf": fmt.Sprintf(`[swift-hash]
swift_hash_path_prefix = %s
swift_hash_path_suffix = %s

[storage-policy:0]
name = Policy-0
default = yes
`, c.HashPrefix, c.HashSuffix),
		// The peer's URL is the WAN proxy from this cluster to the peer,
		// so toxiproxy faults cut this cluster's outgoing sync traffic.
		"container-sync-realms.conf": fmt.Sprintf(`[%s]
key = %s
cluster_%s = %s
cluster_%s = %s
`, Realm, c.RealmKey, c.Cluster, c.SelfURL, c.Peer, c.PeerSyncURL),
		"account-server.conf": common + fmt.Sprintf(`bind_port = %d

[pipeline:main]
pipeline = account-server

[app:account-server]
use = egg:swift#account
`, c.Ports.Account),
		"container-server.conf": common + fmt.Sprintf(`bind_port = %d

[pipeline:main]
pipeline = container-server

[app:container-server]
use = egg:swift#container

[container-sync]
interval = %d
container_time = 60
internal_client_conf_path = %s
`, c.Ports.Container, interval, filepath.Join(c.Dir, "internal-client.conf")),
		"object-server.conf": common + fmt.Sprintf(`bind_port = %d

[pipeline:main]
pipeline = object-server

[app:object-server]
use = egg:swift#object
`, c.Ports.Object),
		// container_sync before the auth middlewares: it authorizes the
		// peer's sync requests by the realm and container keys. s3api
		// before tempauth, which checks S3 signatures for it.
		"proxy-server.conf": fmt.Sprintf(`[DEFAULT]
swift_dir = %s
bind_ip = 127.0.0.1
bind_port = %d
workers = 0
user = %s
log_level = INFO

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats container_sync s3api tempauth copy slo dlo versioned_writes symlink keymaster encryption proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:%d

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:container_sync]
use = egg:swift#container_sync
current = //%s/%s

[filter:s3api]
use = egg:swift#s3api
location = us-east-1

[filter:tempauth]
use = egg:swift#tempauth
user_%s_%s = %s .admin

[filter:copy]
use = egg:swift#copy

[filter:slo]
use = egg:swift#slo

[filter:dlo]
use = egg:swift#dlo

[filter:versioned_writes]
use = egg:swift#versioned_writes
allow_versioned_writes = true

[filter:symlink]
use = egg:swift#symlink
%s`, c.Dir, c.Ports.Proxy, c.RunUser, c.Ports.Memcached, Realm, c.Cluster, Account, User, c.Key, encryption),
		// The container-sync daemon reads local objects through this
		// in-process proxy; without it, it would use /etc/swift.
		"internal-client.conf": fmt.Sprintf(`[DEFAULT]
swift_dir = %s
user = %s

[pipeline:main]
pipeline = catch_errors proxy-logging cache symlink keymaster encryption proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:symlink]
use = egg:swift#symlink
%s
[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:%d

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:catch_errors]
use = egg:swift#catch_errors
`, c.Dir, c.RunUser, encryption, c.Ports.Memcached),
	}
	for name, body := range files {
		// 0600: proxy-server.conf holds the tempauth key, the realms file
		// the realm key.
		if err := os.WriteFile(filepath.Join(c.Dir, name), []byte(body), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// clusterName turns a site name into a realm cluster name: Swift upper-
// cases them and they appear in //REALM/CLUSTER paths, so only letters
// and digits are kept.
func clusterName(site string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(site) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	return b.String()
}
