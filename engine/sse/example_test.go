package sse_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/replcheck/replcheck/engine/sse"
)

// Example shows a PUT and a ranged GET of an SSE-S3 object.
func Example() {
	keyring := sse.GenerateKeyring()

	// PUT: parse the request headers, seal a data key, encrypt the body.
	req := http.Header{}
	req.Set("X-Amz-Server-Side-Encryption", "AES256")
	params, err := sse.ParseS3Headers(req)
	if err != nil {
		panic(err)
	}
	env, dk, err := keyring.Seal(params)
	if err != nil {
		panic(err)
	}
	body := "hello, encrypted world"
	var stored bytes.Buffer
	io.Copy(&stored, sse.EncryptReader(dk, 1, strings.NewReader(body)))

	// GET bytes 7-15: unseal (SSE-S3 needs no request headers), decrypt the range.
	dk2, err := keyring.Unseal(env, sse.Params{})
	if err != nil {
		panic(err)
	}
	r, err := sse.NewDecryptReader(dk2, 1, bytes.NewReader(stored.Bytes()), int64(stored.Len()), 7, 9)
	if err != nil {
		panic(err)
	}
	got, _ := io.ReadAll(r)
	resp := http.Header{}
	sse.SetS3ResponseHeaders(resp, env)
	fmt.Println(string(got), stored.Len(), resp.Get("X-Amz-Server-Side-Encryption"))
	// Output: encrypted 38 AES256
}
