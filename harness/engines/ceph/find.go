package ceph

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/replcheck/replcheck/harness/engines/proc"
)

// InstallHint is how to install what the adapter needs on Debian.
const InstallHint = "apt-get install -y --no-install-recommends ceph-mon ceph-osd radosgw ceph-common"

// Binaries are the Ceph programs the adapter runs.
type Binaries struct {
	Mon, OSD, RGW, RGWAdmin, CLI, MonmapTool string
}

// Find locates the Ceph programs in $REPLCHECK_ENGINES_DIR, on PATH or in
// the engines bin directory. The error names every program missing and how
// to install it.
func Find() (Binaries, error) {
	var b Binaries
	var missing []string
	for _, x := range []struct {
		dst  *string
		name string
		pkg  string
	}{
		{&b.Mon, "ceph-mon", "ceph-mon"},
		{&b.OSD, "ceph-osd", "ceph-osd"},
		{&b.RGW, "radosgw", "radosgw"},
		{&b.RGWAdmin, "radosgw-admin", "radosgw"},
		{&b.CLI, "ceph", "ceph-common"},
		{&b.MonmapTool, "monmaptool", "ceph-common"},
	} {
		p, err := look(x.name)
		if err != nil {
			missing = append(missing, fmt.Sprintf("%s (Debian package %s)", x.name, x.pkg))
			continue
		}
		*x.dst = p
	}
	if len(missing) > 0 {
		return b, fmt.Errorf("ceph engine: not found on PATH or in $REPLCHECK_ENGINES_DIR: %s; install with `%s`",
			strings.Join(missing, ", "), InstallHint)
	}
	return b, nil
}

// Check reports whether the adapter can run here, saying what is missing.
func Check() error {
	_, err := Find()
	return err
}

// look finds name as proc.FindBinary does, then in /usr/sbin for
// distributions that put the daemons there (Debian uses /usr/bin).
func look(name string) (string, error) {
	if p, err := proc.FindBinary(name); err == nil {
		return p, nil
	}
	p := filepath.Join("/usr/sbin", name)
	if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
		return p, nil
	}
	return "", fmt.Errorf("%s not found", name)
}
