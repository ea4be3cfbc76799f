package payload

import (
	"encoding/binary"
	"math/bits"
)

// The body generator is a counter-based SplitMix64: the 8-byte word at
// absolute content offset 8i is mix(key + i·gamma), little-endian, where key
// comes from the operation id and seed (see keyOf). Any offset is produced
// directly, without generating the prefix, so Seek, ReadAt and Range cost
// nothing extra. Because mix is a bijection, two different keys never yield
// the same word at the same offset, so a splice of two writes is detected
// within 8 bytes of the splice point (exactly at it unless a byte happens to
// coincide); gamma being odd, no word repeats within an object either. It
// is not a cipher and need not be one: it only has to make every write's
// bytes distinct, reproducibly, faster than SHA-256 on any CPU (≈6 GB/s
// generating, ≈5 GB/s checking, pure Go). AES-CTR would do too, but costs
// an allocation per seek, is only fast with AES instructions, and offers
// nothing the verifier uses. ChaCha8 from math/rand/v2 cannot seek.
const gamma = 0x9e3779b97f4a7c15

// Multiples of gamma modulo 2⁶⁴, for the four-word loops.
const (
	gamma2 = 2 * gamma % (1 << 64)
	gamma3 = 3 * gamma % (1 << 64)
	gamma4 = 4 * gamma % (1 << 64)
)

// mix is the SplitMix64 finalizer (Stafford's variant 13), a bijection.
func mix(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// word is the generator's word covering offsets [8i, 8i+8).
func word(key, i uint64) uint64 { return mix(key + i*gamma) }

// fillBody writes the generator's bytes at offsets [off, off+len(p)) to p.
func fillBody(p []byte, key uint64, off int64) {
	i := uint64(off) / 8
	if b := int(off % 8); b != 0 {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], word(key, i))
		n := copy(p, w[b:])
		p = p[n:]
		i++
	}
	z := key + i*gamma
	for len(p) >= 32 {
		binary.LittleEndian.PutUint64(p[0:], mix(z))
		binary.LittleEndian.PutUint64(p[8:], mix(z+gamma))
		binary.LittleEndian.PutUint64(p[16:], mix(z+gamma2))
		binary.LittleEndian.PutUint64(p[24:], mix(z+gamma3))
		z += gamma4
		p = p[32:]
	}
	for len(p) >= 8 {
		binary.LittleEndian.PutUint64(p, mix(z))
		z += gamma
		p = p[8:]
	}
	if len(p) > 0 {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], mix(z))
		copy(p, w[:])
	}
}

// diffBody returns the index of the first byte of p that differs from the
// generator's bytes at offsets [off, off+len(p)), or -1.
func diffBody(p []byte, key uint64, off int64) int {
	i := uint64(off) / 8
	n := 0
	if b := int(off % 8); b != 0 {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], word(key, i))
		for j := b; j < 8 && n < len(p); j++ {
			if p[n] != w[j] {
				return n
			}
			n++
		}
		i++
	}
	z := key + i*gamma
	for ; len(p)-n >= 32; n += 32 {
		q := p[n : n+32]
		x0 := binary.LittleEndian.Uint64(q[0:]) ^ mix(z)
		x1 := binary.LittleEndian.Uint64(q[8:]) ^ mix(z+gamma)
		x2 := binary.LittleEndian.Uint64(q[16:]) ^ mix(z+gamma2)
		x3 := binary.LittleEndian.Uint64(q[24:]) ^ mix(z+gamma3)
		if x0|x1|x2|x3 != 0 {
			return n + firstDiff(x0, x1, x2, x3)
		}
		z += gamma4
	}
	for ; len(p)-n >= 8; n += 8 {
		if x := binary.LittleEndian.Uint64(p[n:]) ^ mix(z); x != 0 {
			return n + bits.TrailingZeros64(x)/8
		}
		z += gamma
	}
	if n < len(p) {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], mix(z))
		for j := 0; n < len(p); j, n = j+1, n+1 {
			if p[n] != w[j] {
				return n
			}
		}
	}
	return -1
}

// firstDiff returns the index of the first differing byte given the XOR of
// four consecutive little-endian words, at least one of them non-zero.
func firstDiff(x ...uint64) int {
	for k, v := range x {
		if v != 0 {
			return 8*k + bits.TrailingZeros64(v)/8
		}
	}
	return -1
}
