package bench

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// lookPeer finds a peer's executable on PATH or in the sbin directories
// (which a non-root PATH often lacks).
func lookPeer(name string) (string, bool) {
	if p, err := exec.LookPath(name); err == nil {
		return p, true
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, true
		}
	}
	return "", false
}

// findPeers sets the binaries of cs. hotpath comes from bin; nginx and
// HAProxy are looked up and, when missing, installed with apt-get if install
// is set and this process is root. It returns the contenders that can run
// and, for each one that cannot, why.
func findPeers(cs []*Contender, bin string, install bool, log io.Writer) (ok []*Contender, skipped map[string]string) {
	skipped = map[string]string{}
	var missing []string
	for _, c := range cs {
		if c.isHotpath() {
			continue
		}
		if _, found := lookPeer(c.Name); !found {
			missing = append(missing, c.Name)
		}
	}
	if len(missing) > 0 && install {
		switch {
		case os.Geteuid() != 0:
			fmt.Fprintf(log, "bench: %v not installed and not root: skipping them (apt-get install -y %v)\n", missing, missing)
		default:
			if _, err := exec.LookPath("apt-get"); err != nil {
				fmt.Fprintf(log, "bench: %v not installed and no apt-get: skipping them\n", missing)
				break
			}
			fmt.Fprintf(log, "bench: installing %v with apt-get\n", missing)
			if err := aptInstall(missing, log); err != nil {
				fmt.Fprintf(log, "bench: apt-get install failed: %v\n", err)
			}
		}
	}
	for _, c := range cs {
		if c.isHotpath() {
			dir := bin
			if c.Dir != "" {
				dir = c.Dir
			}
			p := filepath.Join(dir, "hotpath")
			if _, err := os.Stat(p); err != nil {
				skipped[c.Name] = fmt.Sprintf("%s missing (make build)", p)
				continue
			}
			c.Binary = p
			ok = append(ok, c)
			continue
		}
		p, found := lookPeer(c.Name)
		if !found {
			skipped[c.Name] = "not installed (apt-get install -y " + c.Name + ")"
			continue
		}
		c.Binary = p
		ok = append(ok, c)
	}
	return ok, skipped
}

// aptInstall installs pkgs, waiting for another apt run's lock for up to two
// minutes, and refreshing the package lists once if the first try fails.
func aptInstall(pkgs []string, log io.Writer) error {
	install := func() error {
		args := append([]string{"-o", "DPkg::Lock::Timeout=120", "install", "-y", "-q"}, pkgs...)
		cmd := exec.Command("apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = log, log
		return cmd.Run()
	}
	if install() == nil {
		return nil
	}
	upd := exec.Command("apt-get", "-o", "DPkg::Lock::Timeout=120", "update", "-q")
	upd.Stdout, upd.Stderr = log, log
	if err := upd.Run(); err != nil {
		return err
	}
	return install()
}
