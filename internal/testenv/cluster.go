package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is a Postgres server of one test's own, which the test may stop
// and start again: fault tests must never stop the shared test server.
// It listens on a unix socket only, so it takes no port.
type Cluster struct {
	// URL reaches the cluster's postgres database as the postgres user.
	URL string
	dir string
	bin string // holds initdb, pg_ctl
}

// NewCluster initialises and starts a cluster in a new folder, and stops and
// removes it when t ends. It needs initdb and pg_ctl on PATH or in
// /usr/lib/postgresql/*/bin, and fails when they are missing. fsync is off:
// the cluster is thrown away, and tests that stop it need no durability
// beyond a clean shutdown.
func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		t.Fatalf("testenv.NewCluster: unsupported on %s", runtime.GOOS)
	}
	bin, err := pgBinDir()
	if err != nil {
		t.Fatalf("testenv.NewCluster: %v", err)
	}
	// Not t.TempDir: as root the server runs as the postgres user, which
	// must reach the folder, and t.TempDir's parents are private.
	dir, err := os.MkdirTemp("", "signupguard-cluster")
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{dir: dir, bin: bin, URL: "postgres://postgres@/postgres?sslmode=disable&host=" + filepath.Join(dir, "sock")}
	t.Cleanup(func() {
		c.pgCtl("stop", "-m", "immediate")
		os.RemoveAll(dir)
	})
	if err := os.Mkdir(filepath.Join(dir, "sock"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("testenv.NewCluster: running as root, but there is no postgres user to run the server as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		for _, p := range []string{dir, filepath.Join(dir, "sock")} {
			if err := os.Chown(p, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
	}
	if out, err := c.command("initdb", "-D", filepath.Join(dir, "data"), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale").CombinedOutput(); err != nil {
		t.Fatalf("testenv.NewCluster: initdb: %v\n%s", err, out)
	}
	c.Start(t)
	return c
}

// Start starts the cluster and returns once it accepts connections.
func (c *Cluster) Start(t testing.TB) {
	t.Helper()
	opts := fmt.Sprintf("-c listen_addresses='' -k %s -c fsync=off -c max_connections=100", filepath.Join(c.dir, "sock"))
	if err := c.pgCtl("start", "-w", "-t", "60", "-l", filepath.Join(c.dir, "postgres.log"), "-o", opts); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "postgres.log"))
		t.Fatalf("testenv: start cluster: %v\n%s", err, log)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL)
	if err != nil {
		t.Fatalf("testenv: connect to cluster: %v", err)
	}
	conn.Close(ctx)
}

// Stop stops the cluster the way an operator would ("fast": clients are
// disconnected, nothing committed is lost) and returns once it is down.
func (c *Cluster) Stop(t testing.TB) {
	t.Helper()
	if err := c.pgCtl("stop", "-w", "-t", "60", "-m", "fast"); err != nil {
		t.Fatalf("testenv: stop cluster: %v", err)
	}
}

func (c *Cluster) pgCtl(args ...string) error {
	args = append([]string{"-D", filepath.Join(c.dir, "data")}, args...)
	out, err := c.command("pg_ctl", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl %v: %w\n%s", args, err, out)
	}
	return nil
}

// command runs a server program, as the postgres user when we are root:
// initdb and postgres refuse to run as root.
func (c *Cluster) command(name string, args ...string) *exec.Cmd {
	path := filepath.Join(c.bin, name)
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	}
	return exec.Command(path, args...)
}

// pgBinDir finds the folder holding initdb and pg_ctl, as
// scripts/lib/postgres.sh does: PATH first, then the newest
// /usr/lib/postgresql/*/bin.
func pgBinDir() (string, error) {
	if initdb, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("pg_ctl"); err == nil {
			return filepath.Dir(initdb), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return versionOf(b) - versionOf(a) })
	for _, d := range dirs {
		if isExecutable(filepath.Join(d, "initdb")) && isExecutable(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	return "", fmt.Errorf("no PostgreSQL server binaries (initdb, pg_ctl) on PATH or in /usr/lib/postgresql/*/bin; install postgresql")
}

// versionOf returns the major version in /usr/lib/postgresql/<v>/bin.
func versionOf(dir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return v
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode()&0o111 != 0
}
