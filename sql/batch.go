package sql

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/signupguard/signupguard/service"
)

var _ service.Store = (*Batcher)(nil)

// ErrClosed is returned by Batcher.AddSubscriber after Close.
var ErrClosed = errors.New("subscriber batcher is closed")

// BatchConfig tunes a Batcher. Zero fields take the defaults.
type BatchConfig struct {
	// Window is how long a batch waits for more subscriptions after its
	// first, even when a connection is free. Zero, the default: it leaves at
	// once. Either way, subscriptions that arrive while every connection is
	// busy gather into the next batch.
	Window time.Duration
	// MaxSize ends a batch early. Default 256.
	MaxSize int
	// Timeout bounds one batch's statement. Default 5 s.
	Timeout time.Duration
	// InFlight is how many batches may be written at once, each on its own
	// connection. Default 4.
	InFlight int
}

// Batcher stores subscribers like DB.AddSubscriber, but one writer goroutine
// gathers concurrent subscriptions into a single multi-row statement: one
// round trip and one commit serve many requests, where one insert per
// request is bound by Postgres's per-statement cost. Up to InFlight such
// statements run at once. A batch leaves as soon as a connection is free,
// so a lone signup waits for nobody; under load the connections are busy
// and batches grow with it (group commit). Each caller still learns its own
// outcome, and only after the commit.
type Batcher struct {
	db    *DB
	cfg   BatchConfig
	queue chan *pendingAdd
	quit  chan struct{} // closed by Close: stop taking work
	done  chan struct{} // closed when the writer has finished
	once  sync.Once
}

// pendingAdd is one caller waiting for its batch.
type pendingAdd struct {
	ctx context.Context
	sub service.Subscriber
	res chan addResult // buffered: the writer never blocks on a caller
}

type addResult struct {
	created bool
	err     error
}

// NewBatcher starts the writer. Close stops it.
func NewBatcher(db *DB, cfg BatchConfig) *Batcher {
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = 256
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.InFlight <= 0 {
		cfg.InFlight = 4
	}
	b := &Batcher{
		db:    db,
		cfg:   cfg,
		queue: make(chan *pendingAdd, cfg.MaxSize),
		quit:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	go b.write()
	return b
}

// AddSubscriber queues s for the next batch and waits for that batch's
// commit. When ctx ends first it returns ctx's error: the row may still be
// committed, as the Store contract allows for any error.
func (b *Batcher) AddSubscriber(ctx context.Context, s service.Subscriber) (bool, error) {
	p := &pendingAdd{ctx: ctx, sub: s, res: make(chan addResult, 1)}
	select {
	case b.queue <- p:
	case <-b.quit:
		return false, ErrClosed
	case <-ctx.Done():
		return false, fmt.Errorf("queue subscriber: %w", ctx.Err())
	}
	select {
	case r := <-p.res:
		return r.created, r.err
	case <-ctx.Done():
		return false, fmt.Errorf("wait for batch: %w", ctx.Err())
	case <-b.done:
		// The writer drains the queue before it finishes, so an answer
		// may be waiting; without one, p arrived after the drain.
		select {
		case r := <-p.res:
			return r.created, r.err
		default:
			return false, ErrClosed
		}
	}
}

// Close stops taking subscriptions, writes those already queued, and waits
// for the writer to finish.
func (b *Batcher) Close() {
	b.once.Do(func() { close(b.quit) })
	<-b.done
}

// write is the writer goroutine: it takes the first waiting subscription,
// gathers more for up to Window, and hands the batch to a flusher. While
// every flusher is busy it keeps gathering, up to MaxSize, so batches grow
// with the load instead of queueing behind each other.
func (b *Batcher) write() {
	var flushing sync.WaitGroup
	defer close(b.done)
	defer flushing.Wait()
	slots := make(chan struct{}, b.cfg.InFlight)
	send := func(batch []*pendingAdd) { // holding a slot
		flushing.Go(func() { b.flush(batch); <-slots })
	}
	dispatch := func(batch []*pendingAdd) {
		for len(batch) < b.cfg.MaxSize {
			// Take what is already queued first: select would pick a
			// free slot over it half of the time.
			select {
			case p := <-b.queue:
				batch = append(batch, p)
				continue
			default:
			}
			select {
			case slots <- struct{}{}:
				send(batch)
				return
			case p := <-b.queue:
				batch = append(batch, p)
			}
		}
		slots <- struct{}{}
		send(batch)
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		batch := make([]*pendingAdd, 0, b.cfg.MaxSize)
		select {
		case p := <-b.queue:
			batch = append(batch, p)
		case <-b.quit:
			// Close: write what is still queued, then stop.
			for {
				select {
				case p := <-b.queue:
					dispatch([]*pendingAdd{p})
				default:
					return
				}
			}
		}
		if b.cfg.Window > 0 {
			timer.Reset(b.cfg.Window)
		gather:
			for len(batch) < b.cfg.MaxSize {
				select {
				case p := <-b.queue:
					batch = append(batch, p)
				case <-timer.C:
					break gather
				}
			}
			timer.Stop()
		}
		dispatch(batch)
	}
}

// insertBatch inserts one row per element of the arrays. ON CONFLICT DO
// NOTHING skips keys already stored, or being stored by a racing
// transaction (READ COMMITTED waits for it), and RETURNING names the keys
// this statement created. Arrays keep the statement text fixed, so it is
// prepared once per connection whatever the batch size.
const insertBatch = `
insert into subscribers (list, address, address_key, name, client_ip)
select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::inet[])
on conflict (list, address_key) do nothing
returning list, address_key`

// batchKey identifies a row for dedupe.
type batchKey struct{ list, key string }

// flush stores batch and answers every caller in it. Callers that gave up
// before the batch was sent are skipped: nothing of theirs is written.
// Of several subscriptions of one key, the first is sent and the others
// share its fate as duplicates, so exactly one is created.
func (b *Batcher) flush(batch []*pendingAdd) {
	first := make(map[batchKey]*pendingAdd, len(batch))
	var live, leaders []*pendingAdd
	for _, p := range batch {
		if p.ctx.Err() != nil {
			p.res <- addResult{err: fmt.Errorf("wait for batch: %w", p.ctx.Err())}
			continue
		}
		live = append(live, p)
		k := batchKey{p.sub.List, p.sub.Address.Key}
		if _, ok := first[k]; !ok {
			first[k] = p
			leaders = append(leaders, p)
		}
	}
	if len(leaders) == 0 {
		return
	}
	// Batches in flight at once lock their keys in one order, so two
	// batches holding the same keys wait for each other instead of
	// deadlocking.
	slices.SortFunc(leaders, func(x, y *pendingAdd) int {
		return cmp.Or(cmp.Compare(x.sub.List, y.sub.List), cmp.Compare(x.sub.Address.Key, y.sub.Address.Key))
	})
	lists := make([]string, 0, len(leaders))
	addrs := make([]string, 0, len(leaders))
	keys := make([]string, 0, len(leaders))
	names := make([]string, 0, len(leaders))
	ips := make([]*netip.Addr, 0, len(leaders))
	for _, p := range leaders {
		lists = append(lists, p.sub.List)
		addrs = append(addrs, p.sub.Address.String())
		keys = append(keys, p.sub.Address.Key)
		names = append(names, p.sub.Name)
		ips = append(ips, clientIP(p.sub.Client))
	}
	created, err := b.insert(lists, addrs, keys, names, ips)
	for _, p := range live {
		if err != nil {
			p.res <- addResult{err: err}
			continue
		}
		k := batchKey{p.sub.List, p.sub.Address.Key}
		p.res <- addResult{created: first[k] == p && created[k]}
	}
}

// insert runs insertBatch and returns the keys it created.
func (b *Batcher) insert(lists, addrs, keys, names []string, ips []*netip.Addr) (map[batchKey]bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.Timeout)
	defer cancel()
	rows, err := b.db.Pool.Query(ctx, insertBatch, lists, addrs, keys, names, ips)
	if err != nil {
		return nil, fmt.Errorf("insert %d subscribers: %w", len(keys), err)
	}
	defer rows.Close()
	created := make(map[batchKey]bool, len(keys))
	for rows.Next() {
		var k batchKey
		if err := rows.Scan(&k.list, &k.key); err != nil {
			return nil, fmt.Errorf("insert %d subscribers: %w", len(keys), err)
		}
		created[k] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("insert %d subscribers: %w", len(keys), err)
	}
	return created, nil
}
