package swiftapi_test

import (
	"bytes"
	"strconv"
	"testing"

	"github.com/replcheck/replcheck/engine/store"
)

// benchKeys bounds the container's size, so a long run measures the
// request path rather than ever-growing listings.
const benchKeys = 1024

func BenchmarkSwiftPutSmall(b *testing.B) {
	f := newFixture(b)
	f.mkContainer("bench")
	data := randBytes(4<<10, 1)
	names := benchNames()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	i := 0
	for ; b.Loop(); i++ {
		if _, err := f.conn.ObjectPut(ctx, "bench", names[i%benchKeys], bytes.NewReader(data), true, "", "application/octet-stream", nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "ops/s")
}

func BenchmarkSwiftGetSmall(b *testing.B) {
	f := newFixture(b)
	f.mkContainer("bench")
	data := randBytes(4<<10, 1)
	names := benchNames()
	for _, n := range names {
		f.putDirect("bench", n, data, store.ObjectMeta{ContentType: "application/octet-stream"}, noSSE)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var buf bytes.Buffer
	i := 0
	for ; b.Loop(); i++ {
		buf.Reset()
		if _, err := f.conn.ObjectGet(ctx, "bench", names[i%benchKeys], &buf, true, nil); err != nil {
			b.Fatal(err)
		}
		if buf.Len() != len(data) {
			b.Fatalf("read %d bytes", buf.Len())
		}
	}
	b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "ops/s")
}

func benchNames() []string {
	names := make([]string, benchKeys)
	for i := range names {
		names[i] = "obj-" + strconv.Itoa(i)
	}
	return names
}
