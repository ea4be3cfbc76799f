// Package dockertest lets tests that need a Docker engine run where one
// answers and say why they skip where none does. Where CI has an engine it
// sets EnvRequire, so that a broken engine fails those tests instead of
// skipping them unseen.
package dockertest

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/replcheck/replcheck/harness/containers"
)

// EnvRequire, when set, makes Need fail rather than skip.
const EnvRequire = "REPLCHECK_REQUIRE_DOCKER"

var (
	once  sync.Once
	noEng error
)

// Available reports whether a Docker engine answers (nil) or why not.
func Available() error {
	once.Do(func() {
		p, err := containers.Provider(context.Background())
		if err != nil {
			noEng = err
			return
		}
		p.Close()
	})
	return noEng
}

// Need skips t, saying why, when no Docker engine answers, or fails it
// when EnvRequire is set.
func Need(t testing.TB) {
	t.Helper()
	err := Available()
	if err == nil {
		return
	}
	if os.Getenv(EnvRequire) != "" {
		t.Fatalf("%s is set but: %v", EnvRequire, err)
	}
	t.Skipf("skipping: needs a Docker engine (the containers target): %v", err)
}
