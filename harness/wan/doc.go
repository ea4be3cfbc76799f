// Package wan makes the WAN links between sites: one toxiproxy proxy per
// direction (A→B and B→A), so each direction can be shaped or cut on its
// own: latency and jitter, bandwidth, one-way or two-way partition,
// connection resets, slow close, flapping.
//
// Faults go through toxiproxy's client API, so the same code drives a
// toxiproxy server in this process (StartServer, the embedded target) and one
// running elsewhere (Serve, e.g. `replcheck wanproxy` in a container):
// Connect(controlAddr) gives a Network, AddLink puts a proxy between a
// sender and its peer, and the Link's methods apply faults. A Network keeps
// no state of its own, so any number of handles, in any process, see the
// same links.
//
// A Link shapes both directions of the TCP connections through it: the
// sender's requests (toxiproxy's "upstream" stream) and the peer's answers
// ("downstream"). So a latency of d is the one-way delay of a WAN path and a
// request/response round trip over the link takes 2·d longer, and bandwidth
// limits data whichever way replication moves it (push or pull).
//
// What toxiproxy does that a caller may not expect:
//
//   - Bandwidth is per connection and per direction, in units of 1000 B/s.
//   - A refused link closes existing connections in an orderly way (the
//     sender reads EOF, not a reset); a reset (ResetConnections) is a TCP
//     RST only on connections opened after the fault was set.
//   - A blackhole accepts connections, and even opens one to the peer for
//     each, then discards all data; healing closes those connections.
//   - Cutting connections with data in flight strands toxiproxy goroutines
//     unless done with care; this package does (see cut.go), except for
//     ResetConnections with answers longer than one chunk.
//   - Toxiproxy updates a toxic's settings in place, racing with the
//     connections that read them; this package replaces toxics instead.
//   - Toxics run in the order they were added; this package keeps
//     bandwidth ahead of latency (see Link.SetBandwidth).
package wan
