// Package sqltest gives tests a real signupguard database: never a mock of
// the store.
package sqltest

import (
	"context"
	"testing"

	"github.com/signupguard/signupguard/internal/testenv"
	"github.com/signupguard/signupguard/sql"
)

// Open returns a migrated database of its own (testenv.PostgresURL), closed
// when t ends.
func Open(t testing.TB) *sql.DB {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open(ctx, testenv.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}
