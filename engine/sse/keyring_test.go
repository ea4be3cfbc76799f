package sse_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/replcheck/replcheck/engine/sse"
)

func customerKey(seed byte) []byte {
	k := make([]byte, 32)
	for i := range k {
		k[i] = seed ^ byte(i*7+1)
	}
	return k
}

func ssecParams(key []byte) sse.Params {
	return sse.Params{Mode: sse.SSEC, CustomerKey: key, CustomerKeyMD5: sse.KeyMD5(key)}
}

// shared returns a keyring and an independent copy made through its JSON form,
// as two sites sharing a keyring file would have.
func shared(t *testing.T) (*sse.Keyring, *sse.Keyring) {
	t.Helper()
	k := sse.GenerateKeyring()
	if err := k.AddKMSKey("other", bytes.Repeat([]byte{7}, 32)); err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := sse.ParseKeyring(data)
	if err != nil {
		t.Fatalf("ParseKeyring(MarshalJSON): %v", err)
	}
	return k, k2
}

func TestSealUnsealAcrossSites(t *testing.T) {
	site1, site2 := shared(t)
	if site2.MasterKeyID() != "master-1" || site2.DefaultKMSKeyID() != "replcheck-default" {
		t.Errorf("copy has master %q, default KMS %q", site2.MasterKeyID(), site2.DefaultKMSKeyID())
	}
	if got := fmt.Sprint(site2.KMSKeyIDs()); got != "[other replcheck-default]" {
		t.Errorf("KMSKeyIDs = %s", got)
	}
	ck := customerKey(1)
	ctx := base64.StdEncoding.EncodeToString([]byte(`{"a":"b"}`))
	cases := []struct {
		name      string
		seal      sse.Params
		read      sse.Params
		wantKeyID string
	}{
		{"SSE-C", ssecParams(ck), ssecParams(ck), ""},
		{"SSE-C key without MD5", sse.Params{Mode: sse.SSEC, CustomerKey: ck}, sse.Params{Mode: sse.SSEC, CustomerKey: ck}, ""},
		{"SSE-S3", sse.Params{Mode: sse.SSES3}, sse.Params{}, "master-1"},
		{"SSE-KMS default", sse.Params{Mode: sse.SSEKMS}, sse.Params{}, "replcheck-default"},
		{"SSE-KMS named", sse.Params{Mode: sse.SSEKMS, KMSKeyID: "other", KMSContext: ctx}, sse.Params{}, "other"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env, dk, err := site1.Seal(c.seal)
			if err != nil {
				t.Fatal(err)
			}
			if env.Mode != c.seal.Mode || env.KeyID != c.wantKeyID || env.KMSContext != c.seal.KMSContext {
				t.Errorf("envelope %+v", env)
			}
			// The envelope travels as JSON, as the store keeps it.
			data, err := json.Marshal(env)
			if err != nil {
				t.Fatal(err)
			}
			var env2 sse.Envelope
			if err := json.Unmarshal(data, &env2); err != nil {
				t.Fatal(err)
			}
			for _, k := range []*sse.Keyring{site1, site2} {
				got, err := k.Unseal(&env2, c.read)
				if err != nil {
					t.Fatalf("Unseal: %v", err)
				}
				if got != dk {
					t.Fatalf("Unseal returned a different data key")
				}
			}
			_, dk2, err := site1.Seal(c.seal)
			if err != nil || dk2 == dk {
				t.Errorf("a second Seal must make a fresh data key (err %v)", err)
			}
		})
	}
}

func TestUnsealSSECErrors(t *testing.T) {
	k := sse.GenerateKeyring()
	ck := customerKey(2)
	env, _, err := k.Seal(ssecParams(ck))
	if err != nil {
		t.Fatal(err)
	}
	if env.CustomerKeyMD5 != sse.KeyMD5(ck) {
		t.Errorf("envelope key MD5 %q, want %q", env.CustomerKeyMD5, sse.KeyMD5(ck))
	}
	for _, c := range []struct {
		name string
		p    sse.Params
		want error
	}{
		{"no headers", sse.Params{}, sse.ErrMissingCustomerKey},
		{"SSE-S3 headers", sse.Params{Mode: sse.SSES3}, sse.ErrMissingCustomerKey},
		{"wrong key", ssecParams(customerKey(3)), sse.ErrCustomerKeyMismatch},
		{"short key", ssecParams(ck[:16]), sse.ErrCustomerKeyMismatch},
	} {
		if _, err := k.Unseal(env, c.p); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}

	// The MD5 is checked before decryption; with it gone, GCM still refuses.
	noMD5 := *env
	noMD5.CustomerKeyMD5 = ""
	if _, err := k.Unseal(&noMD5, ssecParams(customerKey(3))); !errors.Is(err, sse.ErrDecrypt) {
		t.Errorf("wrong key, no MD5 in envelope: got %v, want ErrDecrypt", err)
	}
}

func TestSealErrors(t *testing.T) {
	k := sse.GenerateKeyring()
	ck := customerKey(4)
	for _, c := range []struct {
		name string
		p    sse.Params
		want error // nil: any error
	}{
		{"mode None", sse.Params{}, nil},
		{"unknown mode", sse.Params{Mode: "SSE-X"}, nil},
		{"SSE-C without key", sse.Params{Mode: sse.SSEC}, sse.ErrMissingCustomerKey},
		{"SSE-C short key", sse.Params{Mode: sse.SSEC, CustomerKey: ck[:31]}, nil},
		{"SSE-C MD5 mismatch", sse.Params{Mode: sse.SSEC, CustomerKey: ck, CustomerKeyMD5: sse.KeyMD5(ck[:31])}, sse.ErrCustomerKeyMismatch},
		{"unknown KMS key", sse.Params{Mode: sse.SSEKMS, KMSKeyID: "nope"}, sse.ErrKMSKeyNotFound},
	} {
		env, _, err := k.Seal(c.p)
		if err == nil || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("%s: got %v, %v; want error %v", c.name, env, err, c.want)
		}
	}
	// A keyring without KMS keys has no default.
	k2, err := sse.NewKeyring("m", customerKey(5))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := k2.Seal(sse.Params{Mode: sse.SSEKMS}); !errors.Is(err, sse.ErrKMSKeyNotFound) {
		t.Errorf("SSE-KMS on a keyring without KMS keys: %v", err)
	}
}

func TestUnsealWrongKeyring(t *testing.T) {
	k1, k2 := sse.GenerateKeyring(), sse.GenerateKeyring() // same ids, different keys
	for _, p := range []sse.Params{{Mode: sse.SSES3}, {Mode: sse.SSEKMS}} {
		env, _, err := k1.Seal(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := k2.Unseal(env, sse.Params{}); !errors.Is(err, sse.ErrDecrypt) {
			t.Errorf("%s with another keyring's key: %v, want ErrDecrypt", p.Mode, err)
		}
	}
	k3, _ := sse.NewKeyring("master-2", customerKey(6))
	env, _, _ := k1.Seal(sse.Params{Mode: sse.SSES3})
	if _, err := k3.Unseal(env, sse.Params{}); !errors.Is(err, sse.ErrMasterKeyNotFound) {
		t.Errorf("SSE-S3 with an unknown master id: %v", err)
	}
	env, _, _ = k1.Seal(sse.Params{Mode: sse.SSEKMS})
	if _, err := k3.Unseal(env, sse.Params{}); !errors.Is(err, sse.ErrKMSKeyNotFound) {
		t.Errorf("SSE-KMS with an unknown key id: %v", err)
	}
}

func TestEnvelopeTamper(t *testing.T) {
	k := sse.GenerateKeyring()
	if err := k.AddKMSKey("second", customerKey(7)); err != nil {
		t.Fatal(err)
	}
	ctx := base64.StdEncoding.EncodeToString([]byte(`{"x":"y"}`))
	env, _, err := k.Seal(sse.Params{Mode: sse.SSEKMS, KMSContext: ctx})
	if err != nil {
		t.Fatal(err)
	}
	edits := map[string]func(e *sse.Envelope){
		"sealed key byte":  func(e *sse.Envelope) { e.SealedKey[20] ^= 1 },
		"nonce byte":       func(e *sse.Envelope) { e.SealedKey[0] ^= 1 },
		"sealed key short": func(e *sse.Envelope) { e.SealedKey = e.SealedKey[:len(e.SealedKey)-1] },
		"sealed key empty": func(e *sse.Envelope) { e.SealedKey = nil },
		"context":          func(e *sse.Envelope) { e.KMSContext = "" },
		"key id":           func(e *sse.Envelope) { e.KeyID = "second" },
		"key MD5 added":    func(e *sse.Envelope) { e.CustomerKeyMD5 = sse.KeyMD5(customerKey(1)) },
	}
	for name, edit := range edits {
		e := *env
		e.SealedKey = bytes.Clone(env.SealedKey)
		edit(&e)
		if _, err := k.Unseal(&e, sse.Params{}); !errors.Is(err, sse.ErrDecrypt) {
			t.Errorf("%s edited: got %v, want ErrDecrypt", name, err)
		}
	}
	if _, err := k.Unseal(env, sse.Params{}); err != nil {
		t.Errorf("untouched envelope: %v", err)
	}
	if _, err := k.Unseal(nil, sse.Params{}); err == nil {
		t.Errorf("nil envelope: no error")
	}
	if _, err := k.Unseal(&sse.Envelope{}, sse.Params{}); err == nil {
		t.Errorf("envelope of mode None: no error")
	}
}

func TestKeyringConstruction(t *testing.T) {
	if _, err := sse.NewKeyring("m", make([]byte, 16)); err == nil || !strings.Contains(err.Error(), "16 bytes") {
		t.Errorf("16-byte master key: %v", err)
	}
	if _, err := sse.NewKeyring("", make([]byte, 32)); err == nil {
		t.Errorf("empty master key id: no error")
	}
	k, err := sse.NewKeyring("m", make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	if k.DefaultKMSKeyID() != "" || len(k.KMSKeyIDs()) != 0 {
		t.Errorf("fresh keyring has KMS keys")
	}
	if err := k.AddKMSKey("b", customerKey(1)); err != nil {
		t.Fatal(err)
	}
	if err := k.AddKMSKey("a", customerKey(2)); err != nil {
		t.Fatal(err)
	}
	if k.DefaultKMSKeyID() != "b" {
		t.Errorf("default is %q, want the first added", k.DefaultKMSKeyID())
	}
	if got := fmt.Sprint(k.KMSKeyIDs()); got != "[a b]" {
		t.Errorf("KMSKeyIDs = %s", got)
	}
	if err := k.AddKMSKey("a", customerKey(2)); err != nil {
		t.Errorf("re-adding the same key: %v", err)
	}
	for name, err := range map[string]error{
		"different key": k.AddKMSKey("a", customerKey(3)),
		"short key":     k.AddKMSKey("c", customerKey(3)[:31]),
		"empty id":      k.AddKMSKey("", customerKey(3)),
		"bad default":   k.SetDefaultKMSKey("zzz"),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if err := k.SetDefaultKMSKey("a"); err != nil || k.DefaultKMSKeyID() != "a" {
		t.Errorf("SetDefaultKMSKey: %v, default %q", err, k.DefaultKMSKeyID())
	}
	data, _ := k.MarshalJSON()
	k2, err := sse.ParseKeyring(data)
	if err != nil || k2.DefaultKMSKeyID() != "a" {
		t.Errorf("round trip: %v, default %q", err, k2.DefaultKMSKeyID())
	}
}

func TestParseKeyringErrors(t *testing.T) {
	key := base64.StdEncoding.EncodeToString(customerKey(1))
	short := base64.StdEncoding.EncodeToString(customerKey(1)[:20])
	for name, doc := range map[string]string{
		"not JSON":         `nope`,
		"trailing data":    `{"version":1,"masterKeyId":"m","masterKey":"` + key + `"} {}`,
		"unknown field":    `{"version":1,"masterKeyId":"m","masterKey":"` + key + `","extra":1}`,
		"version":          `{"version":2,"masterKeyId":"m","masterKey":"` + key + `"}`,
		"no master id":     `{"version":1,"masterKey":"` + key + `"}`,
		"short master":     `{"version":1,"masterKeyId":"m","masterKey":"` + short + `"}`,
		"bad base64":       `{"version":1,"masterKeyId":"m","masterKey":"!!"}`,
		"short KMS key":    `{"version":1,"masterKeyId":"m","masterKey":"` + key + `","defaultKmsKeyId":"k","kmsKeys":{"k":"` + short + `"}}`,
		"unknown default":  `{"version":1,"masterKeyId":"m","masterKey":"` + key + `","defaultKmsKeyId":"x","kmsKeys":{"k":"` + key + `"}}`,
		"missing default":  `{"version":1,"masterKeyId":"m","masterKey":"` + key + `","kmsKeys":{"k":"` + key + `"}}`,
		"default, no keys": `{"version":1,"masterKeyId":"m","masterKey":"` + key + `","defaultKmsKeyId":"k"}`,
	} {
		if _, err := sse.ParseKeyring([]byte(doc)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := sse.ParseKeyring([]byte(`{"version":1,"masterKeyId":"m","masterKey":"` + key + `"}`)); err != nil {
		t.Errorf("minimal keyring: %v", err)
	}
}

// leaks reports the first encoding of key found in s.
func leaks(s string, key []byte) string {
	dec := strings.Trim(fmt.Sprint(key), "[]")
	for _, enc := range []string{
		string(key),
		base64.StdEncoding.EncodeToString(key),
		base64.RawStdEncoding.EncodeToString(key),
		base64.URLEncoding.EncodeToString(key),
		hex.EncodeToString(key),
		strings.ToUpper(hex.EncodeToString(key)),
		dec,
		strings.ReplaceAll(dec, " ", ","),
		fmt.Sprintf("%#v", key),
	} {
		if strings.Contains(s, enc) {
			return enc
		}
	}
	return ""
}

func TestNoKeyMaterialPrinted(t *testing.T) {
	k := sse.GenerateKeyring()
	ck := customerKey(9)
	p := ssecParams(ck)
	env, dk, err := k.Seal(p)
	if err != nil {
		t.Fatal(err)
	}
	envJSON, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	pJSON, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"Params.String": p.String(),
		"envelope JSON": string(envJSON),
		"Params JSON":   string(pJSON),
		"envelope %+v":  fmt.Sprintf("%+v", env),
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%d", "%q"} {
		outputs["Params "+verb] = fmt.Sprintf(verb, p)
		outputs["*Params "+verb] = fmt.Sprintf(verb, &p)
		outputs["DataKey "+verb] = fmt.Sprintf(verb, dk)
		outputs["struct with Params "+verb] = fmt.Sprintf(verb, struct{ P sse.Params }{p})
	}
	for name, out := range outputs {
		for kname, key := range map[string][]byte{"customer key": ck, "data key": dk[:]} {
			if enc := leaks(out, key); enc != "" {
				t.Errorf("%s contains the %s (%q): %s", name, kname, enc, out)
			}
		}
	}
	if !strings.Contains(p.String(), "SSE-C") || !strings.Contains(p.String(), "REDACTED") {
		t.Errorf("Params.String = %s", p.String())
	}

	// A keyring prints its ids but never its keys, whatever the verb.
	data, _ := k.MarshalJSON()
	var j struct {
		MasterKey []byte            `json:"masterKey"`
		KMSKeys   map[string][]byte `json:"kmsKeys"`
	}
	if err := json.Unmarshal(data, &j); err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%d"} {
		out := fmt.Sprintf(verb, k)
		for _, key := range append([][]byte{j.MasterKey}, j.KMSKeys["replcheck-default"]) {
			if enc := leaks(out, key); enc != "" {
				t.Errorf("keyring printed with %s leaks %q: %s", verb, enc, out)
			}
		}
	}
}

func TestKeyringConcurrent(t *testing.T) {
	k := sse.GenerateKeyring()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprint("k", i)
			if err := k.AddKMSKey(id, customerKey(byte(i))); err != nil {
				t.Error(err)
				return
			}
			for range 50 {
				env, dk, err := k.Seal(sse.Params{Mode: sse.SSEKMS, KMSKeyID: id})
				if err != nil {
					t.Error(err)
					return
				}
				if got, err := k.Unseal(env, sse.Params{}); err != nil || got != dk {
					t.Error("unseal failed", err)
					return
				}
				_ = k.KMSKeyIDs()
				_, _ = k.MarshalJSON()
			}
		}()
	}
	wg.Wait()
}

func TestZeroKeyring(t *testing.T) {
	var k sse.Keyring
	if _, _, err := k.Seal(sse.Params{Mode: sse.SSES3}); !errors.Is(err, sse.ErrMasterKeyNotFound) {
		t.Errorf("SSE-S3 with a zero keyring: %v, want ErrMasterKeyNotFound", err)
	}
	if err := k.AddKMSKey("k", customerKey(1)); err != nil {
		t.Fatal(err)
	}
	env, dk, err := k.Seal(sse.Params{Mode: sse.SSEKMS})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := k.Unseal(env, sse.Params{}); err != nil || got != dk {
		t.Errorf("SSE-KMS with a zero keyring: %v", err)
	}
}
