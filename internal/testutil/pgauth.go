package testutil

import (
	"context"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PasswordPostgres starts a private PostgreSQL cluster that authenticates
// every TCP connection with scram-sha-256 (the shared test server trusts
// 127.0.0.1, so it cannot tell a wrong password), on a free loopback port,
// without TLS, until the test ends. It returns the URL of its superuser
// postgres with its password. initdb and postgres come from PATH or
// /usr/lib/postgresql/*/bin; without them the test is skipped, except with
// CI=true, where it fails. As root the cluster runs as the postgres user.
func PasswordPostgres(t testing.TB) string {
	t.Helper()
	bin := postgresBinDir()
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true and initdb is not installed (apt-get install postgresql)")
		}
		t.Skip("initdb is not installed (PostgreSQL's server binaries, e.g. Debian's postgresql package)")
	}
	var cred *syscall.Credential
	dir, err := os.MkdirTemp("", "pgauth-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		// initdb and postgres refuse to run as root.
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root and there is no postgres user to run the cluster as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	const password = "admin-secret"
	data := filepath.Join(dir, "data")
	pwfile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwfile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if cred != nil {
		_ = os.Chown(pwfile, int(cred.Uid), int(cred.Gid))
	}
	run := func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true}
		return cmd
	}
	if out, err := run("initdb", "-D", data, "-U", "postgres", "--pwfile", pwfile, "--auth=scram-sha-256",
		"--no-sync", "--no-instructions", "-E", "UTF8", "--locale=C").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	port := freePort(t)
	cmd := run("postgres", "-D", data, "-c", "listen_addresses=127.0.0.1", "-p", strconv.Itoa(port),
		"-c", "unix_socket_directories="+dir, "-c", "ssl=off", "-c", "fsync=off", "-c", "max_connections=20",
		"-c", "shared_buffers=16MB")
	logs := &LogBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT) // fast shutdown
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	url := "postgres://postgres:" + password + "@127.0.0.1:" + strconv.Itoa(port) + "/postgres?sslmode=disable"
	waitReady(t, "private PostgreSQL with scram-sha-256 on port "+strconv.Itoa(port), exited, logs, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, url)
		if err == nil {
			_ = c.Close(context.Background())
		}
		return err
	})
	return url
}

// postgresBinDir is the directory of initdb: on PATH, else the newest
// /usr/lib/postgresql/N/bin.
func postgresBinDir() string {
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p)
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	best, bestN := "", 0
	for _, d := range dirs {
		n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(d))))
		if n > bestN {
			best, bestN = filepath.Dir(d), n
		}
	}
	return best
}
