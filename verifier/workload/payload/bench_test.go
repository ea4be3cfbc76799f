package payload_test

import (
	"io"
	"testing"

	"github.com/replcheck/replcheck/verifier/workload/payload"
)

var bench = payload.Spec{OpID: "bench", Seed: 1, Size: 64 << 20}

// BenchmarkReader generates content as a PUT body does: io.Copy to the
// connection uses WriteTo.
func BenchmarkReader(b *testing.B) {
	b.SetBytes(bench.Size)
	for b.Loop() {
		if _, err := io.Copy(io.Discard, payload.NewReader(bench)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReaderRead generates content through Read into 32 KiB buffers,
// as net/http's transport reads a body.
func BenchmarkReaderRead(b *testing.B) {
	b.SetBytes(bench.Size)
	buf := make([]byte, 32<<10)
	for b.Loop() {
		r := payload.NewReader(bench)
		for {
			if _, err := r.Read(buf); err == io.EOF {
				break
			}
		}
	}
}

// BenchmarkIdentify checks content already in memory, as a GET body
// arrives: reading, SHA-256 and comparison.
func BenchmarkIdentify(b *testing.B) {
	c := content(b, bench)
	b.SetBytes(bench.Size)
	for b.Loop() {
		res, err := payload.Identify(&sliceReader{b: c}, 0)
		if err != nil || !res.Valid {
			b.Fatal(res, err)
		}
	}
}

// BenchmarkMatches checks content against a candidate: no hashing.
func BenchmarkMatches(b *testing.B) {
	c := content(b, bench)
	b.SetBytes(bench.Size)
	for b.Loop() {
		if ok, err := payload.Matches(bench, &sliceReader{b: c}); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkSHA256 hashes a spec's content, as the workload does before a
// write to record its plaintext hash.
func BenchmarkSHA256(b *testing.B) {
	b.SetBytes(bench.Size)
	for b.Loop() {
		payload.SHA256(bench)
	}
}

// sliceReader is a reader over memory without bytes.Reader's WriteTo, so
// that Identify sees Read calls as from a network body.
type sliceReader struct{ b []byte }

func (r *sliceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}
