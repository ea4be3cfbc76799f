package site_test

import (
	"net/http"
	"testing"

	"github.com/minio/minio-go/v7/pkg/signer"

	"github.com/replcheck/replcheck/engine/site"
)

// signed signs a raw request for the site's S3 API with an empty body.
func signed(t testing.TB, s *site.Site, req *http.Request) *http.Request {
	t.Helper()
	u := s.Users()[0]
	req.Header.Set("X-Amz-Content-Sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
	return signer.SignV4(*req, u.AccessKey, u.SecretKey, "", s.Region())
}
