package client

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// Default timeouts of the transport NewS3 and NewSwift make.
const (
	DefaultDialTimeout     = 5 * time.Second  // TCP connect
	DefaultResponseTimeout = 2 * time.Minute  // from the request sent to the response headers
	DefaultIdleTimeout     = 90 * time.Second // idle keep-alive connections
)

// Option configures NewS3 and NewSwift.
type Option func(*options)

type options struct {
	rt      http.RoundTripper
	timeout time.Duration
	// unsignedPayload signs uploads as UNSIGNED-PAYLOAD rather than
	// streaming them aws-chunked (set for sites that refuse that).
	unsignedPayload bool
}

// WithTransport makes the client send its requests through rt instead of
// a transport of its own (with the Default… timeouts).
func WithTransport(rt http.RoundTripper) Option { return func(o *options) { o.rt = rt } }

// WithTimeout bounds every call by d: each method runs under a context
// that ends d after the call (a Get's body must be read and closed within
// it too). 0, the default, leaves it to the caller's context and the
// transport's timeouts.
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

func newOptions(opts []Option) options {
	var o options
	for _, f := range opts {
		f(&o)
	}
	if o.rt == nil {
		o.rt = NewTransport()
	}
	return o
}

// NewTransport returns the transport a client uses by default: proxies
// from the environment, and bounded connect, TLS handshake and response
// header waits (a site that accepts connections but never answers fails
// the request instead of holding it forever).
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: DefaultDialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: DefaultResponseTimeout,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       DefaultIdleTimeout,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
	}
}

// callCtx is the context one call runs under.
func (o options) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if o.timeout > 0 {
		return context.WithTimeout(ctx, o.timeout)
	}
	return ctx, func() {}
}

// cancelOnClose ends a call's context when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	once   sync.Once
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.once.Do(c.cancel)
	return err
}
