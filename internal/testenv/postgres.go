// Package testenv stands up real dependencies for tests: a Postgres database
// per test, a Postgres cluster a test may stop and start, a Redis key
// prefix per test, and a DNS server on loopback. It imports no package of
// signupguard, so any package's tests can use it.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresURL returns the URL of a new, empty database, dropped when t ends.
// The server comes from TEST_DATABASE_URL, which scripts/test sets to a
// throwaway cluster. It fails, never skips: a skipped store test passes
// silently.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		t.Fatal("TEST_DATABASE_URL is not set: run scripts/test, or point it at a Postgres server where databases may be created and dropped")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to TEST_DATABASE_URL: %v", err)
	}
	defer conn.Close(ctx)

	name := "signupguard_test_" + unique()
	if _, err := conn.Exec(ctx, "create database "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop test database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "drop database if exists "+name+" with (force)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	return withDatabase(t, base, name)
}

// withDatabase returns base with its database replaced by name. base may be
// a URL or a key=value DSN.
func withDatabase(t testing.TB, base, name string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return base + " dbname=" + name
	}
	u.Path = "/" + name
	return u.String()
}

// unique returns a random name part, so tests running at once, in one
// process or several, never share a database or a key.
func unique() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
