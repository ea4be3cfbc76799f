package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/ncw/swift/v2"

	"github.com/replcheck/replcheck/harness"
	"github.com/replcheck/replcheck/verifier/client"
	"github.com/replcheck/replcheck/verifier/history"
)

func TestClassifyTable(t *testing.T) {
	dial := &url.Error{Op: "Put", URL: "http://x", Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}
	reset := &url.Error{Op: "Put", URL: "http://x", Err: &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}}
	for _, tc := range []struct {
		name string
		err  error
		want history.Outcome
	}{
		{"nil", nil, history.OK},
		{"NoSuchKey", minio.ErrorResponse{Code: "NoSuchKey", StatusCode: 404}, history.Failed},
		{"AccessDenied", fmt.Errorf("s3 put b/k: %w", minio.ErrorResponse{Code: "AccessDenied", StatusCode: 403}), history.Failed},
		{"PreconditionFailed", minio.ErrorResponse{Code: "PreconditionFailed", StatusCode: 412}, history.Failed},
		{"InternalError", minio.ErrorResponse{Code: "InternalError", StatusCode: 500}, history.Unknown},
		{"SlowDown", minio.ErrorResponse{Code: "SlowDown", StatusCode: 503}, history.Unknown},
		{"NotImplemented", minio.ErrorResponse{Code: "NotImplemented", StatusCode: 501}, history.Failed},
		{"swift 501", &swift.Error{StatusCode: 501, Text: "not implemented"}, history.Failed},
		{"swift 404", fmt.Errorf("swift get: %w", swift.ObjectNotFound), history.Failed},
		{"swift 400 with body", fmt.Errorf("%w: Bad request: SSE-C", swift.BadRequest), history.Failed},
		{"swift 503", &swift.Error{StatusCode: 503, Text: "unavailable"}, history.Unknown},
		{"swift client timeout (its 408)", swift.TimeoutError, history.Unknown},
		{"unsupported", fmt.Errorf("x: %w", client.ErrUnsupported), history.Failed},
		{"invalid", fmt.Errorf("x: %w", client.ErrInvalid), history.Failed},
		{"connection refused", dial, history.Failed},
		{"connection reset", reset, history.Unknown},
		{"EOF", &url.Error{Op: "Put", URL: "http://x", Err: io.EOF}, history.Unknown},
		{"unexpected EOF", io.ErrUnexpectedEOF, history.Unknown},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), history.Unknown},
		{"canceled", context.Canceled, history.Unknown},
		{"anything else", errors.New("boom"), history.Unknown},
	} {
		if got := client.Classify(tc.err); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
	if !client.IsNotFound(swift.ContainerNotFound) || !client.IsNotFound(minio.ErrorResponse{Code: "NoSuchVersion", StatusCode: 404}) ||
		client.IsNotFound(swift.TimeoutError) || client.IsNotFound(minio.ErrorResponse{Code: "AccessDenied", StatusCode: 403}) {
		t.Error("IsNotFound")
	}
}

func TestClassifyNoSuchKey(t *testing.T) {
	_, a, _ := start(t)
	for _, c := range both(t, a) {
		mkbucket(t, c, "nsk-"+c.API(), client.BucketOptions{})
		_, _, err := c.Get(context.Background(), "nsk-"+c.API(), "missing", client.GetOptions{})
		if got := client.Classify(err); got != history.Failed || !client.IsNotFound(err) {
			t.Errorf("%s: %v: %s", c.API(), err, got)
		}
		var er minio.ErrorResponse
		if c.API() == client.APIS3 && (!errors.As(err, &er) || er.Code != "NoSuchKey") {
			t.Errorf("s3: %v is not NoSuchKey", err)
		}
		_, _, err = c.Get(context.Background(), "no-such-bucket", "k", client.GetOptions{})
		if client.Classify(err) != history.Failed || !client.IsNotFound(err) {
			t.Errorf("%s, missing bucket: %v", c.API(), err)
		}
	}
}

// TestClassifyPausedSite: a site that holds requests makes a write with a
// short deadline Unknown: the request was sent and may be applied later.
func TestClassifyPausedSite(t *testing.T) {
	_, a, _ := start(t)
	ctx := context.Background()
	cs := both(t, a)
	for _, c := range cs {
		mkbucket(t, c, "paused-"+c.API(), client.BucketOptions{}) // and Swift authenticates
	}
	if err := a.(harness.Pauser).Pause(ctx); err != nil {
		t.Fatal(err)
	}
	defer a.(harness.Pauser).Resume(ctx)
	for _, c := range cs {
		short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		start := time.Now()
		_, err := c.Put(short, "paused-"+c.API(), "k", strings.NewReader("v"), 1, client.PutOptions{})
		cancel()
		if got := client.Classify(err); err == nil || got != history.Unknown {
			t.Errorf("%s put to a paused site: %v: %s", c.API(), err, got)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: the 200 ms deadline took %v", c.API(), d)
		}
	}
	// WithTimeout bounds a call the same way without the caller's deadline.
	c := newS3(t, a, client.WithTimeout(200*time.Millisecond))
	if _, err := c.Head(ctx, "paused-s3", "k", client.GetOptions{}); client.Classify(err) != history.Unknown {
		t.Errorf("head with WithTimeout: %v", err)
	}
	// A Swift client that must authenticate first fails without sending
	// the operation at all.
	fresh := newSwift(t, a)
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	_, err := fresh.Put(short, "paused-swift", "k", strings.NewReader("v"), 1, client.PutOptions{})
	if got := client.Classify(err); got != history.Failed || !strings.Contains(err.Error(), "authenticating") {
		t.Errorf("swift put whose authentication timed out: %v: %s", err, got)
	}
}

// TestClassifyRefusedConnection: nothing listens, so the request never
// left: Failed.
func TestClassifyRefusedConnection(t *testing.T) {
	addr := "http://" + closedPort(t)
	site := fakeSite{s3: addr, auth: addr + "/auth/v1.0"}
	s3, err := client.NewS3(site, true)
	if err != nil {
		t.Fatal(err)
	}
	sw, err := client.NewSwift(site, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []client.Client{s3, sw} {
		_, err := c.Put(context.Background(), "bucket", "k", strings.NewReader("v"), 1, client.PutOptions{})
		if got := client.Classify(err); err == nil || got != history.Failed {
			t.Errorf("%s: %v: %s", c.API(), err, got)
		}
		_, err = c.Delete(context.Background(), "bucket", "k", "")
		if got := client.Classify(err); err == nil || got != history.Failed {
			t.Errorf("%s delete: %v: %s", c.API(), err, got)
		}
	}
}

// TestClassifyCrashMidRequest: a site that dies while a request is in
// flight leaves it Unknown.
func TestClassifyCrashMidRequest(t *testing.T) {
	_, a, _ := start(t)
	ctx := context.Background()
	c, sw := newS3(t, a), newSwift(t, a)
	mkbucket(t, c, "crash", client.BucketOptions{})
	put(t, sw, "crash", "authenticated", []byte("x"), client.PutOptions{})
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := c.Put(ctx, "crash", "k", pr, 1<<20, client.PutOptions{})
		done <- err
	}()
	if _, err := pw.Write(make([]byte, 64<<10)); err != nil { // the request is on its way
		t.Fatal(err)
	}
	if err := a.(harness.Crasher).Crash(ctx); err != nil {
		t.Fatal(err)
	}
	go func() { // feed the rest, in case the client still reads
		pw.Write(make([]byte, 1<<20))
		pw.Close()
	}()
	err := <-done
	if got := client.Classify(err); err == nil || got != history.Unknown {
		t.Errorf("put cut by a crash: %v: %s", err, got)
	}
	// Now nothing listens: an authenticated Swift client's request is
	// refused before it is sent.
	_, err = sw.Put(ctx, "crash", "k2", strings.NewReader("v"), 1, client.PutOptions{})
	if got := client.Classify(err); err == nil || got != history.Failed || strings.Contains(err.Error(), "authenticating") {
		t.Errorf("swift put to a crashed site: %v: %s", err, got)
	}
	if err := a.(harness.Crasher).Restart(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestSwiftDeleteOfAbsentIsInDoubt: a Swift DELETE answered 404 is still
// "not found" to callers, and in doubt to the history: a Swift store
// writes the delete's tombstone before answering so.
func TestSwiftDeleteOfAbsentIsInDoubt(t *testing.T) {
	_, a, _ := start(t)
	ctx := context.Background()
	sw := newSwift(t, a)
	if err := sw.CreateBucket(ctx, "gone", client.BucketOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := sw.Delete(ctx, "gone", "never-written", "")
	if err == nil || !client.IsNotFound(err) {
		t.Fatalf("delete of an absent object: %v, want not found", err)
	}
	if got := client.Classify(err); got != history.Unknown {
		t.Errorf("classified %s, want %s (%v)", got, history.Unknown, err)
	}
	// A Swift GET of it stays a plain failure.
	_, _, err = sw.Get(ctx, "gone", "never-written", client.GetOptions{})
	if got := client.Classify(err); got != history.Failed {
		t.Errorf("get: classified %s, want %s (%v)", got, history.Failed, err)
	}
}
