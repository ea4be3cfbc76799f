package s3api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/replcheck/replcheck/engine/endpoint"
	"github.com/replcheck/replcheck/engine/store"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestLogging: one debug record per request, and never a secret in it.
func TestLogging(t *testing.T) {
	t.Parallel()
	var buf lockedBuffer
	e := newEnv(t, func(_ *store.Options, c *endpoint.Config) {
		c.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	ctx := context.Background()
	b := e.bucket("logged")
	e.put(b, "secret-obj", []byte("data"), minio.PutObjectOptions{ServerSideEncryption: mustSSEC(t, customerKey)})
	e.mustGet(b, "secret-obj", minio.GetObjectOptions{ServerSideEncryption: mustSSEC(t, customerKey)})
	u, err := e.mc.PresignedGetObject(ctx, b, "secret-obj", time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	e.client(accessKey, "wrong").ListBuckets(ctx)

	out := buf.String()
	for _, secret := range []string{secretKey, "wrong", base64.StdEncoding.EncodeToString(customerKey), "Signature=", "X-Amz-Signature", "Credential", "Authorization"} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{"method=PUT", "bucket=logged", "key=secret-obj", "status=200", "error=SignatureDoesNotMatch", "status=403", "duration="} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}
