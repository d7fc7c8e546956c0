package sql

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/jackc/pgx/v5"
	"github.com/signupguard/signupguard/service"
)

var _ service.Store = (*DB)(nil)

// In READ COMMITTED, ON CONFLICT DO NOTHING waits for a racing insert of the
// same key and then returns no row: exactly one of many concurrent identical
// signups gets an id.
const insertSubscriber = `
insert into subscribers (list, address, address_key, name, client_ip)
values ($1, $2, $3, $4, $5)
on conflict (list, address_key) do nothing
returning id`

// AddSubscriber stores s unless (s.List, s.Address.Key) is already stored.
func (db *DB) AddSubscriber(ctx context.Context, s service.Subscriber) (bool, error) {
	var id int64
	err := db.Pool.QueryRow(ctx, insertSubscriber, s.List, s.Address.String(), s.Address.Key, s.Name, clientIP(s.Client)).Scan(&id)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("insert subscriber: %w", err)
	}
	return true, nil
}

// clientIP is a subscriber's client_ip: nil (NULL) when the address is
// unknown, and IPv4 as IPv4 when it came IPv4-mapped.
func clientIP(a netip.Addr) *netip.Addr {
	if !a.IsValid() {
		return nil
	}
	a = a.Unmap()
	return &a
}
