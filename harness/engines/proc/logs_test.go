package proc

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSaveLogs(t *testing.T) {
	st, err := NewState(t.TempDir(), "test")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(time.Second)
	p, err := st.Start(context.Background(), Cmd{Name: "talker", Path: "/bin/sh", Args: []string{"-c", "echo key=hunter2-secret ready"}})
	if err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	out := filepath.Join(t.TempDir(), "logs")
	if err := st.SaveLogs(out, "hunter2-secret", ""); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(out, "talker.log"))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(data); !strings.Contains(got, "key=[redacted] ready") || strings.Contains(got, "hunter2") {
		t.Errorf("saved log %q: want the line with its secret redacted", got)
	}
}
