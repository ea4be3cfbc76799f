package payload_test

import (
	"fmt"
	"io"

	"github.com/replcheck/replcheck/verifier/workload/payload"
)

func Example() {
	s := payload.Spec{OpID: "w-42", Seed: 7, Size: 1 << 20}
	body := payload.NewReader(s) // the PUT body; also an io.ReaderAt
	sum := payload.SHA256(s)     // recorded in the history
	fmt.Printf("put %v sha256 %x…\n", s, sum[:4])

	// Reading it back: the content names its write.
	res, err := payload.Identify(body, 0)
	fmt.Println(res.Valid, res.Spec == s, res.FirstMismatch, err)

	// A ranged read is checked against the same range of the spec.
	part, _ := io.ReadAll(payload.Range(s, 0, 12))
	fmt.Printf("%q\n", part)

	// A 5-byte object is its header's prefix: attribute it to the write the
	// user metadata names.
	tiny := payload.Spec{OpID: "w-43", Seed: 8, Size: 5}
	ok, _ := payload.Matches(tiny, payload.NewReader(tiny))
	fmt.Println(tiny.Identifiable(), ok)
	// Output:
	// put w-42/0000000000000007/1048576 sha256 c9d4c8fd…
	// true true -1 <nil>
	// "replcheck/1 "
	// false true
}
