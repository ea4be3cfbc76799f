package sse_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/replcheck/replcheck/engine/sse"
)

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1]) // canonicalizes, as net/http does for requests
	}
	return h
}

func TestParseS3Headers(t *testing.T) {
	key := customerKey(1)
	b64 := base64.StdEncoding.EncodeToString(key)
	md5 := sse.KeyMD5(key)
	ctx := base64.StdEncoding.EncodeToString([]byte(`{"dept":"qa"}`))
	ssec := []string{
		"x-amz-server-side-encryption-customer-algorithm", "AES256",
		"x-amz-server-side-encryption-customer-key", b64,
		"x-amz-server-side-encryption-customer-key-MD5", md5,
	}
	with := func(base []string, kv ...string) []string {
		return append(append([]string(nil), base...), kv...)
	}
	const (
		invArg = "InvalidArgument"
		invAlg = "InvalidEncryptionAlgorithmError"
	)
	cases := []struct {
		name     string
		h        http.Header
		want     sse.Params
		wantCode string
	}{
		{"none", hdr(), sse.Params{}, ""},
		{"unrelated headers", hdr("Content-Type", "text/plain"), sse.Params{}, ""},
		{"SSE-S3", hdr("x-amz-server-side-encryption", "AES256"), sse.Params{Mode: sse.SSES3}, ""},
		{"SSE-S3 padded", hdr("x-amz-server-side-encryption", " AES256 "), sse.Params{Mode: sse.SSES3}, ""},
		{"SSE-KMS default key", hdr("x-amz-server-side-encryption", "aws:kms"), sse.Params{Mode: sse.SSEKMS}, ""},
		{"SSE-KMS key and context", hdr("x-amz-server-side-encryption", "aws:kms",
			"x-amz-server-side-encryption-aws-kms-key-id", "k1",
			"x-amz-server-side-encryption-context", ctx),
			sse.Params{Mode: sse.SSEKMS, KMSKeyID: "k1", KMSContext: ctx}, ""},
		{"SSE-KMS key ARN", hdr("x-amz-server-side-encryption", "aws:kms",
			"x-amz-server-side-encryption-aws-kms-key-id", "arn:aws:kms:us-east-1:123456789012:key/k1"),
			sse.Params{Mode: sse.SSEKMS, KMSKeyID: "k1"}, ""},
		{"SSE-C", hdr(ssec...), sse.Params{Mode: sse.SSEC, CustomerKey: key, CustomerKeyMD5: md5}, ""},
		{"SSE-C with copy-source headers too", hdr(with(ssec, "x-amz-copy-source-server-side-encryption-customer-algorithm", "AES256")...),
			sse.Params{Mode: sse.SSEC, CustomerKey: key, CustomerKeyMD5: md5}, ""},
		{"copy-source headers only", hdr("x-amz-copy-source-server-side-encryption-customer-algorithm", "AES256"), sse.Params{}, ""},

		{"unknown algorithm", hdr("x-amz-server-side-encryption", "AES512"), sse.Params{}, invAlg},
		{"lower-case algorithm", hdr("x-amz-server-side-encryption", "aes256"), sse.Params{}, invAlg},
		{"empty algorithm", hdr("x-amz-server-side-encryption", ""), sse.Params{}, invAlg},
		{"DSSE", hdr("x-amz-server-side-encryption", "aws:kms:dsse"), sse.Params{}, invAlg},
		{"SSE-S3 with KMS key id", hdr("x-amz-server-side-encryption", "AES256", "x-amz-server-side-encryption-aws-kms-key-id", "k1"), sse.Params{}, invArg},
		{"SSE-S3 with context", hdr("x-amz-server-side-encryption", "AES256", "x-amz-server-side-encryption-context", ctx), sse.Params{}, invArg},
		{"KMS key id alone", hdr("x-amz-server-side-encryption-aws-kms-key-id", "k1"), sse.Params{}, invArg},
		{"empty KMS key id", hdr("x-amz-server-side-encryption", "aws:kms", "x-amz-server-side-encryption-aws-kms-key-id", ""), sse.Params{}, invArg},
		{"context not base64", hdr("x-amz-server-side-encryption", "aws:kms", "x-amz-server-side-encryption-context", "{not base64}"), sse.Params{}, invArg},
		{"context not JSON", hdr("x-amz-server-side-encryption", "aws:kms", "x-amz-server-side-encryption-context", base64.StdEncoding.EncodeToString([]byte("a=b"))), sse.Params{}, invArg},
		{"context not an object", hdr("x-amz-server-side-encryption", "aws:kms", "x-amz-server-side-encryption-context", base64.StdEncoding.EncodeToString([]byte(`["a"]`))), sse.Params{}, invArg},
		{"context null", hdr("x-amz-server-side-encryption", "aws:kms", "x-amz-server-side-encryption-context", base64.StdEncoding.EncodeToString([]byte(`null`))), sse.Params{}, invArg},
		{"SSE-C and SSE-S3", hdr(with(ssec, "x-amz-server-side-encryption", "AES256")...), sse.Params{}, invArg},
		{"SSE-C and SSE-KMS", hdr(with(ssec, "x-amz-server-side-encryption", "aws:kms")...), sse.Params{}, invArg},
		{"SSE-C and KMS key id", hdr(with(ssec, "x-amz-server-side-encryption-aws-kms-key-id", "k1")...), sse.Params{}, invArg},
		{"SSE-C algorithm missing", hdr(ssec[2:]...), sse.Params{}, invArg},
		{"SSE-C algorithm AES128", hdr(with(ssec, "x-amz-server-side-encryption-customer-algorithm", "AES128")...), sse.Params{}, invArg},
		{"SSE-C key missing", hdr(ssec[0], ssec[1], ssec[4], ssec[5]), sse.Params{}, invArg},
		{"SSE-C MD5 missing", hdr(ssec[:4]...), sse.Params{}, invArg},
		{"SSE-C key not base64", hdr(with(ssec, "x-amz-server-side-encryption-customer-key", "***")...), sse.Params{}, invArg},
		{"SSE-C key 16 bytes", hdr(with(ssec, "x-amz-server-side-encryption-customer-key", base64.StdEncoding.EncodeToString(key[:16]),
			"x-amz-server-side-encryption-customer-key-MD5", sse.KeyMD5(key[:16]))...), sse.Params{}, invArg},
		{"SSE-C MD5 mismatch", hdr(with(ssec, "x-amz-server-side-encryption-customer-key-MD5", sse.KeyMD5(customerKey(2)))...), sse.Params{}, invArg},
		{"SSE-C MD5 not base64", hdr(with(ssec, "x-amz-server-side-encryption-customer-key-MD5", "abc")...), sse.Params{}, invArg},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := sse.ParseS3Headers(c.h)
			if c.wantCode == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				if !paramsEqual(got, c.want) {
					t.Fatalf("got %v, want %v", got, c.want)
				}
				return
			}
			var he *sse.HeaderError
			if !errors.As(err, &he) {
				t.Fatalf("got %v, %v; want a *HeaderError", got, err)
			}
			if he.Code != c.wantCode || he.Message == "" || he.StatusCode() != http.StatusBadRequest {
				t.Errorf("got code %q message %q status %d, want code %q", he.Code, he.Message, he.StatusCode(), c.wantCode)
			}
			if !strings.Contains(he.Error(), he.Code) || !strings.Contains(he.Error(), he.Message) {
				t.Errorf("Error() = %q", he.Error())
			}
			if enc := leaks(he.Error(), key); enc != "" {
				t.Errorf("error message leaks the key: %s", he.Error())
			}
		})
	}
}

func paramsEqual(a, b sse.Params) bool {
	return a.Mode == b.Mode && bytes.Equal(a.CustomerKey, b.CustomerKey) && a.CustomerKeyMD5 == b.CustomerKeyMD5 &&
		a.KMSKeyID == b.KMSKeyID && a.KMSContext == b.KMSContext
}

func TestParseS3CopySourceHeaders(t *testing.T) {
	key := customerKey(3)
	b64 := base64.StdEncoding.EncodeToString(key)
	md5 := sse.KeyMD5(key)
	copySSEC := []string{
		"x-amz-copy-source-server-side-encryption-customer-algorithm", "AES256",
		"x-amz-copy-source-server-side-encryption-customer-key", b64,
		"x-amz-copy-source-server-side-encryption-customer-key-MD5", md5,
	}
	got, err := sse.ParseS3CopySourceHeaders(hdr(copySSEC...))
	if err != nil || !paramsEqual(got, sse.Params{Mode: sse.SSEC, CustomerKey: key, CustomerKeyMD5: md5}) {
		t.Errorf("copy-source SSE-C: %v, %v", got, err)
	}
	// Destination headers do not count as copy-source ones.
	got, err = sse.ParseS3CopySourceHeaders(hdr("x-amz-server-side-encryption", "AES256",
		"x-amz-server-side-encryption-customer-algorithm", "AES256"))
	if err != nil || got.Mode != sse.None {
		t.Errorf("destination headers only: %v, %v", got, err)
	}
	for name, h := range map[string]http.Header{
		"MD5 mismatch":  hdr(append(append([]string(nil), copySSEC[:4]...), copySSEC[4], sse.KeyMD5(key[:1]))...),
		"bad algorithm": hdr(append([]string{copySSEC[0], "aws:kms"}, copySSEC[2:]...)...),
		"no key":        hdr(copySSEC[0], copySSEC[1], copySSEC[4], copySSEC[5]),
	} {
		var he *sse.HeaderError
		if _, err := sse.ParseS3CopySourceHeaders(h); !errors.As(err, &he) || he.Code != "InvalidArgument" {
			t.Errorf("%s: got %v, want InvalidArgument", name, err)
		}
	}
}

func TestSetS3ResponseHeaders(t *testing.T) {
	k := sse.GenerateKeyring()
	ck := customerKey(4)
	ctx := base64.StdEncoding.EncodeToString([]byte(`{"a":"b"}`))
	cases := []struct {
		p    sse.Params
		want http.Header
	}{
		{sse.Params{Mode: sse.SSES3}, hdr("x-amz-server-side-encryption", "AES256")},
		{sse.Params{Mode: sse.SSEKMS}, hdr("x-amz-server-side-encryption", "aws:kms",
			"x-amz-server-side-encryption-aws-kms-key-id", "replcheck-default")},
		{sse.Params{Mode: sse.SSEKMS, KMSContext: ctx}, hdr("x-amz-server-side-encryption", "aws:kms",
			"x-amz-server-side-encryption-aws-kms-key-id", "replcheck-default",
			"x-amz-server-side-encryption-context", ctx)},
		{ssecParams(ck), hdr("x-amz-server-side-encryption-customer-algorithm", "AES256",
			"x-amz-server-side-encryption-customer-key-MD5", sse.KeyMD5(ck))},
	}
	for _, c := range cases {
		env, _, err := k.Seal(c.p)
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		sse.SetS3ResponseHeaders(h, env)
		if len(h) != len(c.want) {
			t.Errorf("%s: got %v, want %v", c.p.Mode, h, c.want)
		}
		for name := range c.want {
			if h.Get(name) != c.want.Get(name) {
				t.Errorf("%s: %s = %q, want %q", c.p.Mode, name, h.Get(name), c.want.Get(name))
			}
		}
		for name, vs := range h {
			if enc := leaks(name+strings.Join(vs, ","), ck); enc != "" {
				t.Errorf("response header %s leaks the customer key", name)
			}
		}
		// What the server returns parses back to the same mode.
		if c.p.Mode != sse.SSEC {
			if p, err := sse.ParseS3Headers(h); err != nil || p.Mode != c.p.Mode {
				t.Errorf("%s: response headers parse as %v, %v", c.p.Mode, p, err)
			}
		}
	}
	h := http.Header{}
	sse.SetS3ResponseHeaders(h, nil)
	sse.SetS3ResponseHeaders(h, &sse.Envelope{})
	if len(h) != 0 {
		t.Errorf("no encryption set headers %v", h)
	}
}

func TestETagIsPlainMD5(t *testing.T) {
	for m, want := range map[sse.Mode]bool{sse.None: true, sse.SSES3: true, sse.SSEC: false, sse.SSEKMS: false} {
		if got := sse.ETagIsPlainMD5(m); got != want {
			t.Errorf("ETagIsPlainMD5(%q) = %v, want %v", m, got, want)
		}
	}
}
