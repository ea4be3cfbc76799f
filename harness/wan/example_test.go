package wan_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/replcheck/replcheck/harness/wan"
)

// A one-way partition with latency on the way back: site A's replication
// traffic to site B is cut, while B still reaches A, 40 ms away.
func Example() {
	siteA := httptest.NewServer(http.NotFoundHandler())
	defer siteA.Close()
	siteB := httptest.NewServer(http.NotFoundHandler())
	defer siteB.Close()

	srv, err := wan.StartServer("127.0.0.1:0", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	network := wan.Connect(srv.Addr()) // the same for a remote toxiproxy

	aToB, err := network.AddLink("a-to-b", "127.0.0.1:0", siteB.Listener.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	bToA, err := network.AddLink("b-to-a", "127.0.0.1:0", siteA.Listener.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	// Site A sends to aToB.Addr(), site B to bToA.Addr().
	if err := aToB.Partition(wan.Refuse); err != nil {
		log.Fatal(err)
	}
	if err := bToA.SetLatency(40*time.Millisecond, 5*time.Millisecond); err != nil {
		log.Fatal(err)
	}

	links, err := network.Links()
	if err != nil {
		log.Fatal(err)
	}
	for _, l := range links {
		faults, err := l.Faults()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: %s\n", l.Name(), strings.Join(faults, ", "))
	}
	// Output:
	// a-to-b: partition refuse
	// b-to-a: latency 40ms ±5ms
}
