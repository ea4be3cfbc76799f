package wan_test

import (
	"encoding/binary"
	"io"
	"net"
	"testing"

	"github.com/replcheck/replcheck/harness/wan"
)

// BenchmarkLinkThroughput streams bytes to a sink directly and through an
// unshaped link, so the proxy's own cost is known.
func BenchmarkLinkThroughput(b *testing.B) {
	sink := startSink(b)
	_, network := startNetwork(b)
	link, err := network.AddLink("bench", "", sink)
	if err != nil {
		b.Fatal(err)
	}
	const chunk = 64 << 10
	buf := make([]byte, chunk)
	for _, bc := range []struct{ name, addr string }{{"direct", sink}, {"link", link.Addr()}} {
		b.Run(bc.name, func(b *testing.B) {
			conn, err := net.Dial("tcp", bc.addr)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			b.SetBytes(chunk)
			b.ResetTimer()
			// The sink acknowledges once it has read everything announced.
			if err := binary.Write(conn, binary.BigEndian, uint64(b.N)*chunk); err != nil {
				b.Fatal(err)
			}
			for range b.N {
				if _, err := conn.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := io.ReadFull(conn, buf[:1]); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkLinkRoundTrip bounces one byte off the sink, directly and
// through an unshaped link: the proxy's added latency.
func BenchmarkLinkRoundTrip(b *testing.B) {
	sink := startSink(b)
	_, network := startNetwork(b)
	link, err := network.AddLink("bench", "", sink)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct{ name, addr string }{{"direct", sink}, {"link", link.Addr()}} {
		b.Run(bc.name, func(b *testing.B) {
			conn, err := net.Dial("tcp", bc.addr)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			msg := make([]byte, 9)
			binary.BigEndian.PutUint64(msg, 1) // announce 1 byte, then send it
			ack := make([]byte, 1)
			for b.Loop() {
				if _, err := conn.Write(msg); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(conn, ack); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkServerStartClose(b *testing.B) {
	b.Run("bare", func(b *testing.B) {
		for b.Loop() {
			srv, err := wan.StartServer("", nil)
			if err != nil {
				b.Fatal(err)
			}
			if err := srv.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
	// Two links, as a two-site topology has.
	b.Run("two-links", func(b *testing.B) {
		upstream := startSink(b)
		for b.Loop() {
			srv, err := wan.StartServer("", nil)
			if err != nil {
				b.Fatal(err)
			}
			network := wan.Connect(srv.Addr())
			for _, name := range []string{"a-to-b", "b-to-a"} {
				if _, err := network.AddLink(name, "", upstream); err != nil {
					b.Fatal(err)
				}
			}
			if err := srv.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// startSink serves, on a loopback port, a protocol of repeated messages:
// an 8-byte big-endian length n, then n bytes, answered with one byte once
// all n are read.
func startSink(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				var n uint64
				for binary.Read(conn, binary.BigEndian, &n) == nil {
					if _, err := io.CopyN(io.Discard, conn, int64(n)); err != nil {
						return
					}
					if _, err := conn.Write([]byte{1}); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}
