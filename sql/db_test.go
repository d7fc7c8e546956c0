package sql_test

import (
	"context"
	"net/netip"
	"sync"
	"testing"

	"github.com/signupguard/signupguard/internal/testenv"
	"github.com/signupguard/signupguard/service"
	"github.com/signupguard/signupguard/sql"
	"github.com/signupguard/signupguard/sql/sqltest"
)

// TestMigrateConcurrent starts eight instances' migrations at once on an
// empty database, as a rolling deploy does: all succeed (a migration run
// twice would fail on the table it creates), and migrating again is a
// no-op that leaves the table in place.
func TestMigrateConcurrent(t *testing.T) {
	url := testenv.PostgresURL(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			db, err := sql.Open(ctx, url)
			if err != nil {
				errs[i] = err
				return
			}
			defer db.Close()
			errs[i] = db.Migrate(ctx)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("instance %d: %v", i, err)
		}
	}
	db, err := sql.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	var n int
	if err := db.Pool.QueryRow(ctx, "select count(*) from subscribers").Scan(&n); err != nil {
		t.Fatalf("subscribers table: %v", err)
	}
}

func TestAddSubscriber(t *testing.T) {
	db := sqltest.Open(t)
	ctx := context.Background()
	addr, err := service.ParseAddress("Jane.Doe+x@GoogleMail.com")
	if err != nil {
		t.Fatal(err)
	}
	s := service.Subscriber{List: "default", Address: addr, Name: "Jane", Client: netip.MustParseAddr("::ffff:192.0.2.7")}
	if created, err := db.AddSubscriber(ctx, s); err != nil || !created {
		t.Fatalf("first add: created=%v err=%v", created, err)
	}
	if created, err := db.AddSubscriber(ctx, s); err != nil || created {
		t.Fatalf("second add: created=%v err=%v, want a duplicate", created, err)
	}
	s.List = "weekly"
	if created, err := db.AddSubscriber(ctx, s); err != nil || !created {
		t.Fatalf("other list: created=%v err=%v", created, err)
	}
	var address, key, ip string
	err = db.Pool.QueryRow(ctx, "select address, address_key, host(client_ip) from subscribers where list = 'default'").Scan(&address, &key, &ip)
	if err != nil {
		t.Fatal(err)
	}
	if address != "Jane.Doe+x@googlemail.com" || key != "janedoe@gmail.com" || ip != "192.0.2.7" {
		t.Fatalf("stored %q key %q ip %q", address, key, ip)
	}
}
