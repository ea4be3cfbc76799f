package wan

import (
	"errors"
	"fmt"
	"net/http"
	"sort"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
)

// Network is a handle on one toxiproxy control API, in this process or
// remote. It holds no state of its own: every call asks the server, so two
// handles on one server see the same links and faults.
type Network struct {
	addr   string
	client *toxiclient.Client
}

// Connect returns a handle on the toxiproxy control API at controlAddr
// (host:port, or an http:// URL). It does not dial: the first call does.
func Connect(controlAddr string) *Network {
	return &Network{addr: controlAddr, client: toxiclient.NewClient(controlAddr)}
}

// AddLink creates a link called name that listens on listen (DefaultAddr if
// empty; port 0 picks a free port) and forwards to upstream. The returned
// Link's Addr is the address actually listened on. Names are made of
// letters, digits, '.', '_' and '-', e.g. "europe-se-1a-to-europe-se-1b".
func (n *Network) AddLink(name, listen, upstream string) (*Link, error) {
	if err := checkName(name); err != nil {
		return nil, fmt.Errorf("add wan link %q: %w", name, err)
	}
	if upstream == "" {
		return nil, fmt.Errorf("add wan link %s: no upstream address", name)
	}
	if listen == "" {
		listen = DefaultAddr
	}
	p, err := n.client.CreateProxy(name, listen, upstream)
	if err != nil {
		return nil, fmt.Errorf("add wan link %s (%s → %s): %w", name, listen, upstream, err)
	}
	return n.link(p), nil
}

// Link returns the existing link called name.
func (n *Network) Link(name string) (*Link, error) {
	if err := checkName(name); err != nil {
		return nil, fmt.Errorf("wan link %q: %w", name, err)
	}
	p, err := n.client.Proxy(name)
	if err != nil {
		return nil, fmt.Errorf("wan link %s: %w", name, err)
	}
	return n.link(p), nil
}

// Links returns every link on the server, sorted by name.
func (n *Network) Links() ([]*Link, error) {
	proxies, err := n.client.Proxies()
	if err != nil {
		return nil, fmt.Errorf("list wan links at %s: %w", n.addr, err)
	}
	links := make([]*Link, 0, len(proxies))
	for _, p := range proxies {
		links = append(links, n.link(p))
	}
	sort.Slice(links, func(i, j int) bool { return links[i].name < links[j].name })
	return links, nil
}

// RemoveLink deletes the link called name, closing its listener and every
// connection through it.
func (n *Network) RemoveLink(name string) error {
	if err := checkName(name); err != nil {
		return fmt.Errorf("remove wan link %q: %w", name, err)
	}
	p, err := n.client.Proxy(name)
	if err == nil && p.Enabled {
		// Cut first so that deleting strands nothing (see cut.go).
		err = n.link(p).cut(p)
	}
	if err == nil {
		err = p.Delete()
	}
	if err != nil {
		return fmt.Errorf("remove wan link %s: %w", name, err)
	}
	return nil
}

// Reset removes every fault from every link: all toxics go and disabled
// links are enabled again. It is ClearFaults on each link, which closes
// blackholed connections more cleanly than toxiproxy's own reset.
func (n *Network) Reset() error {
	links, err := n.Links()
	if err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	var errs []error
	for _, l := range links {
		errs = append(errs, l.ClearFaults())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("reset wan links at %s: %w", n.addr, err)
	}
	return nil
}

func (n *Network) link(p *toxiclient.Proxy) *Link {
	return &Link{client: n.client, name: p.Name, addr: p.Listen, upstream: p.Upstream}
}

// checkName keeps names safe to put in the control API's URL paths.
func checkName(name string) error {
	if name == "" {
		return errors.New("empty name")
	}
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
		default:
			return fmt.Errorf("name may hold only letters, digits, '.', '_' and '-', not %q", r)
		}
	}
	return nil
}

// apiStatus is the HTTP status of a toxiproxy API error and its message, or
// 0 for other errors (e.g. the server is unreachable).
func apiStatus(err error) (int, string) {
	var apiErr *toxiclient.ApiError
	if errors.As(err, &apiErr) {
		return apiErr.Status, apiErr.Message
	}
	return 0, ""
}

// isToxicNotFound tells a missing toxic from a missing proxy: both are 404.
func isToxicNotFound(err error) bool {
	status, msg := apiStatus(err)
	return status == http.StatusNotFound && msg == "toxic not found"
}
