package proc

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
// Another process may take it before it is used; engines that cannot
// listen on port 0 have no better option.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Addr returns "127.0.0.1:port".
func Addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// pollInterval is the pause between readiness checks.
const pollInterval = 100 * time.Millisecond

// WaitTCP waits until addr accepts a connection, p (if not nil) exits, or
// ctx ends. Errors carry the tail of p's log.
func WaitTCP(ctx context.Context, addr string, p *Process) error {
	return wait(ctx, p, "accept on "+addr, func(ctx context.Context) error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	})
}

// WaitHTTP waits until a GET of url answers with a status for which ok
// returns true (any status below 500 if ok is nil), p (if not nil) exits,
// or ctx ends. Errors carry the tail of p's log.
func WaitHTTP(ctx context.Context, url string, ok func(status int) bool, p *Process) error {
	if ok == nil {
		ok = func(s int) bool { return s < 500 }
	}
	client := &http.Client{Timeout: 5 * time.Second}
	return wait(ctx, p, "answer "+url, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if !ok(resp.StatusCode) {
			return fmt.Errorf("status %s", resp.Status)
		}
		return nil
	})
}

// Wait calls check until it returns nil, p (if not nil) exits, or ctx
// ends; what names the awaited condition in the error.
func Wait(ctx context.Context, p *Process, what string, check func(context.Context) error) error {
	return wait(ctx, p, what, check)
}

func wait(ctx context.Context, p *Process, what string, check func(context.Context) error) error {
	var last error
	for {
		if last = check(ctx); last == nil {
			return nil
		}
		var done <-chan struct{}
		if p != nil {
			done = p.Done()
		}
		t := time.NewTimer(pollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return waitErr(p, fmt.Sprintf("waiting to %s: %v (last: %v)", what, ctx.Err(), last))
		case <-done:
			t.Stop()
			_, werr := p.Exited()
			return waitErr(p, fmt.Sprintf("waiting to %s: %s exited (%v)", what, p.name, werr))
		case <-t.C:
		}
	}
}

func waitErr(p *Process, msg string) error {
	if p == nil {
		return fmt.Errorf("%s", msg)
	}
	return fmt.Errorf("%s; last lines of %s:\n%s", msg, p.log, p.LogTail(20))
}
