package proc

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
)

// SaveLogs copies the logs of the topology's processes (the *.log files of
// its state directory) into dir, which it creates, with every secret
// replaced by "[redacted]": a run that does not pass keeps them after
// Close removes the state directory.
func (s *State) SaveLogs(dir string, secrets ...string) error {
	logs, err := filepath.Glob(filepath.Join(s.dir, "*.log"))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save logs: %w", err)
	}
	for _, l := range logs {
		data, err := os.ReadFile(l)
		if err != nil {
			return fmt.Errorf("save logs: %w", err)
		}
		for _, sec := range secrets {
			if sec != "" {
				data = bytes.ReplaceAll(data, []byte(sec), []byte("[redacted]"))
			}
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(l)), data, 0o644); err != nil {
			return fmt.Errorf("save logs: %w", err)
		}
	}
	return nil
}
