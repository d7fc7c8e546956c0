package main

import (
	"context"
	"net/netip"

	"github.com/signupguard/signupguard/api"
	"github.com/signupguard/signupguard/blocklist"
)

// The adapters below show the capabilities to /admin/ in the api's terms,
// so neither side imports the other.

// liveMatcher answers GET /admin/ip/{ip} from the Set in service.
type liveMatcher struct{ lists *blocklist.Live }

func (m liveMatcher) Matches(ip netip.Addr) ([]api.Match, bool) {
	set := m.lists.Load()
	if set == nil {
		return nil, false
	}
	var out []api.Match
	for _, x := range set.Matches(ip) {
		out = append(out, api.Match{Source: x.Source, Prefix: x.Prefix})
	}
	return out, set.Allowed(ip)
}

// storedSources answers GET /admin/blocklists with each configured
// source's state: the copy stored by refresh (or the file standing in for
// it) and the last check.
type storedSources struct{ stored *storedLists }

func (s storedSources) Sources(ctx context.Context) ([]api.Source, error) {
	snaps, err := s.stored.Sources(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]api.Source, 0, len(snaps))
	for _, x := range snaps {
		out = append(out, api.Source{
			Name:        x.Name,
			Location:    x.Location,
			Entries:     x.Entries,
			FetchedAt:   x.FetchedAt,
			LastRefresh: x.CheckedAt,
			LastError:   x.LastError,
		})
	}
	return out, nil
}

// banKeeper answers /admin/bans from the limiter.
type banKeeper struct{ lim limiter }

func (b banKeeper) Bans(ctx context.Context) ([]api.Ban, error) {
	bans, err := b.lim.Bans(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]api.Ban, 0, len(bans))
	for _, x := range bans {
		out = append(out, api.Ban{Key: x.Key.String(), Until: x.Until, Level: x.Level})
	}
	return out, nil
}

func (b banKeeper) Lift(ctx context.Context, key string) error { return b.lim.Lift(ctx, key) }

var (
	_ api.IPMatcher    = liveMatcher{}
	_ api.SourceLister = storedSources{}
	_ api.Reloader     = (*blocklist.Reloader)(nil)
	_ api.BanKeeper    = banKeeper{}
)
