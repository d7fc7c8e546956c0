package limit

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/signupguard/signupguard/service"
)

var _ service.Limiter = (*Redis)(nil)

// Redis limits clients with state kept in Redis, so every instance sharing
// that Redis shares the limits and bans. The buckets are GCRA (the token
// bucket of Memory, stored as one timestamp per key) and every decision is
// one Lua script, so instances never race. Every key expires on its own.
//
// Redis is an optimisation, not a dependency: while it cannot be reached,
// requests are limited in process by a Memory, the outage is logged and
// reported by Check, and no request fails because of it.
type Redis struct {
	cfg      Config
	client   *redis.Client
	prefix   string
	log      *slog.Logger
	metrics  *metrics
	fallback *Memory
	timeout  time.Duration

	mu      sync.Mutex
	lastErr error     // nil while Redis answers
	retryAt time.Time // while lastErr is set, Redis is not asked before this
	outages int       // times Redis went away
}

const (
	// DefaultRedisTimeout bounds every Redis call unless
	// Config.RedisTimeout says otherwise: a limiter that waits longer than
	// this costs more than it saves.
	DefaultRedisTimeout = 250 * time.Millisecond
	// redisRetry is how long the fallback is used before Redis is tried
	// again, so an outage costs one timeout per interval, not per request.
	redisRetry = 5 * time.Second
)

// DialRedis returns a client for url (redis://, rediss:// or unix://) with
// timeout (zero: DefaultRedisTimeout) on every call and no retries: a
// failed call falls back at once. It does not connect yet.
func DialRedis(url string, timeout time.Duration) (*redis.Client, error) {
	if timeout <= 0 {
		timeout = DefaultRedisTimeout
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		// Not wrapped: the cause may quote the URL, password and all.
		return nil, fmt.Errorf("REDIS_URL is not a valid redis://, rediss:// or unix:// URL")
	}
	opts.DialTimeout = timeout
	opts.ReadTimeout = timeout
	opts.WriteTimeout = timeout
	opts.PoolTimeout = timeout
	opts.ContextTimeoutEnabled = true
	opts.MaxRetries = -1
	opts.DialerRetries = 1
	opts.DisableIdentity = true
	return redis.NewClient(opts), nil
}

// NewRedis returns a limiter keeping its state in client under keys
// starting with prefix. Metrics are registered on reg.
func NewRedis(cfg Config, client *redis.Client, prefix string, log *slog.Logger, reg prometheus.Registerer) (*Redis, error) {
	mem, err := newMemory(cfg, log)
	if err != nil {
		return nil, err
	}
	r := &Redis{cfg: cfg, client: client, prefix: prefix, log: log, fallback: mem, timeout: cfg.RedisTimeout}
	if r.timeout <= 0 {
		r.timeout = DefaultRedisTimeout
	}
	r.metrics = newMetrics(reg, mem.Keys, r.activeBans)
	mem.metrics = r.metrics
	return r, nil
}

// Check reports whether Redis answers, for readiness. While it does not,
// limits are kept in process: an instance works, but does not share them.
func (r *Redis) Check(ctx context.Context) error {
	ctx, cancel := redisContext(ctx, r.timeout)
	defer cancel()
	err := r.client.Ping(ctx).Err()
	r.record(ctx, err)
	if err != nil {
		return fmt.Errorf("redis unreachable, limits are per instance: %w", err)
	}
	return nil
}

// redisContext bounds a Redis call by d alone. A request's cancellation
// is not passed on: a bot that hangs up at once must still spend its token
// and take its strike, and a caller going away says nothing about Redis.
func redisContext(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), d)
}

// usable reports whether Redis should be asked now.
func (r *Redis) usable(now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastErr == nil || !now.Before(r.retryAt)
}

// record notes the outcome of a Redis call, logging when Redis goes away
// and when it comes back rather than on every request.
func (r *Redis) record(ctx context.Context, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case err != nil && r.lastErr == nil:
		r.outages++
		r.log.WarnContext(ctx, "redis unreachable; limiting in process until it answers", "err", err)
	case err == nil && r.lastErr != nil:
		r.log.InfoContext(ctx, "redis answers again; limits are shared")
	}
	r.lastErr = err
	if err != nil {
		r.retryAt = r.cfg.now().Add(redisRetry)
	}
}

// Keys under prefix: bans and strikes per client key, GCRA timestamps per
// client, per network and one global.
func (r *Redis) banKey(k netip.Prefix) string     { return r.prefix + "ban:" + k.String() }
func (r *Redis) strikesKey(k netip.Prefix) string { return r.prefix + "strikes:" + k.String() }

func (r *Redis) keys(client netip.Addr) []string {
	k := ClientKey(client)
	return []string{r.banKey(k), r.strikesKey(k),
		r.prefix + "client:" + k.String(), r.prefix + "net:" + NetworkKey(client).String(), r.prefix + "global"}
}

// Times are passed to the scripts in microseconds of the limiter's clock,
// so that tests can move it; instances must keep their clocks in sync
// (NTP) for the limits to be exact. Keys' TTLs are in milliseconds.
func micros(t time.Time) int64       { return t.UnixMicro() }
func microsOf(d time.Duration) int64 { return d.Microseconds() }

// strikeLua is shared by both scripts. KEYS[1] is the ban hash (until,
// level, forget), KEYS[2] the strikes hash (start, count).
const strikeLua = `
local function pttl(us) return math.max(1, math.ceil(us / 1000)) end
local function strike(now, n, window, ban, maxban)
  if n <= 0 then return {0, 0} end
  local b = redis.call('HMGET', KEYS[1], 'until', 'level', 'forget')
  if tonumber(b[1] or '0') > now then return {0, 0} end
  local s = redis.call('HMGET', KEYS[2], 'start', 'count')
  local start, count = tonumber(s[1] or '0'), tonumber(s[2] or '0')
  if count == 0 or now - start >= window then start, count = now, 0 end
  count = count + 1
  if count <= n then
    redis.call('HSET', KEYS[2], 'start', start, 'count', count)
    redis.call('PEXPIRE', KEYS[2], pttl(start + window - now))
    return {0, 0}
  end
  redis.call('DEL', KEYS[2])
  local level = tonumber(b[2] or '0')
  if tonumber(b[3] or '0') <= now then level = 0 end
  local d = math.min(ban * 2 ^ math.min(level, 62), maxban)
  local untl = now + d
  redis.call('HSET', KEYS[1], 'until', untl, 'level', level + 1, 'forget', untl + maxban)
  redis.call('PEXPIRE', KEYS[1], pttl(d + maxban))
  return {untl, level + 1}
end
`

// allowScript answers {kind, wait, until, level}: kind 0 allowed, 1 banned,
// 2 client, 3 network, 4 global bucket empty; until and level are set when
// this refusal's strike imposed a ban. KEYS[3..5] hold the GCRA theoretical
// arrival times of the client, network and global buckets.
var allowScript = redis.NewScript(strikeLua + `
local now = tonumber(ARGV[1])
local untl = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')
if untl > now then return {1, untl - now, 0, 0} end
local tats = {}
for i = 0, 2 do
  local interval, burst = tonumber(ARGV[2 + 2 * i]), tonumber(ARGV[3 + 2 * i])
  if interval > 0 then
    local tat = math.max(tonumber(redis.call('GET', KEYS[3 + i]) or '0'), now)
    local wait = tat + interval - burst * interval - now
    if wait > 0 then
      if i == 0 then
        local s = strike(now, tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11]))
        return {2, wait, s[1], s[2]}
      end
      return {2 + i, wait, 0, 0}
    end
    tats[3 + i] = tat + interval
  end
end
for k, tat in pairs(tats) do
  redis.call('SET', KEYS[k], tat, 'PX', pttl(tat - now))
end
return {0, 0, 0, 0}
`)

// strikeScript answers {until, level}, both 0 unless the strike imposed a ban.
var strikeScript = redis.NewScript(strikeLua + `
return strike(tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]))
`)

func (r *Redis) banArgs() []any {
	return []any{r.cfg.Strikes, microsOf(r.cfg.StrikeWindow), microsOf(r.cfg.BanTime), microsOf(r.cfg.MaxBanTime)}
}

func rateArgs(rt Rate) []any {
	if rt.IsZero() {
		return []any{0, 0}
	}
	return []any{max(microsOf(rt.interval()), 1), rt.Burst}
}

// Allow is Memory.Allow with the buckets and bans in Redis.
func (r *Redis) Allow(ctx context.Context, client netip.Addr) error {
	now := r.cfg.now()
	if !r.usable(now) {
		return r.fallback.Allow(ctx, client)
	}
	args := []any{micros(now)}
	args = append(args, rateArgs(r.cfg.Client)...)
	args = append(args, rateArgs(r.cfg.Network)...)
	args = append(args, rateArgs(r.cfg.Global)...)
	args = append(args, r.banArgs()...)
	rctx, cancel := redisContext(ctx, r.timeout)
	defer cancel()
	res, err := allowScript.Run(rctx, r.client, r.keys(client), args...).Int64Slice()
	r.record(ctx, err)
	if err != nil {
		return r.fallback.Allow(ctx, client)
	}
	kind, wait := res[0], time.Duration(res[1])*time.Microsecond
	if res[2] > 0 {
		r.banned(ctx, ClientKey(client), now, res[2], res[3], service.CodeRateLimited)
	}
	switch kind {
	case 0:
		return nil
	case 1:
		r.metrics.limited.WithLabelValues("banned").Inc()
		return refusal(wait, true)
	case 2:
		r.metrics.strikes.WithLabelValues(strikeLabel(service.CodeRateLimited)).Inc()
	}
	r.metrics.limited.WithLabelValues([]string{"", "", "client", "network", "global"}[kind]).Inc()
	return refusal(wait, false)
}

// Strike is Memory.Strike with the strikes and bans in Redis.
func (r *Redis) Strike(ctx context.Context, client netip.Addr, why service.Code) {
	now := r.cfg.now()
	if !r.usable(now) {
		r.fallback.Strike(ctx, client, why)
		return
	}
	k := ClientKey(client)
	rctx, cancel := redisContext(ctx, r.timeout)
	defer cancel()
	res, err := strikeScript.Run(rctx, r.client, []string{r.banKey(k), r.strikesKey(k)},
		append([]any{micros(now)}, r.banArgs()...)...).Int64Slice()
	r.record(ctx, err)
	if err != nil {
		r.fallback.Strike(ctx, client, why)
		return
	}
	r.metrics.strikes.WithLabelValues(strikeLabel(why)).Inc()
	if res[0] > 0 {
		r.banned(ctx, k, now, res[0], res[1], why)
	}
}

func (r *Redis) banned(ctx context.Context, k netip.Prefix, now time.Time, untilMicros, level int64, why service.Code) {
	r.metrics.bans.Inc()
	d := time.UnixMicro(untilMicros).Sub(now)
	r.log.InfoContext(ctx, "client banned", "network", NetworkKey(k.Addr()).String(), "for", d.String(), "level", level, "last_strike", string(why))
}

// maxBans bounds the bans Bans lists: the admin API must not scan forever.
const maxBans = 10_000

// Bans lists the clients banned now, from Redis, or from the fallback
// while Redis cannot be reached.
func (r *Redis) Bans(ctx context.Context) ([]Ban, error) {
	now := r.cfg.now()
	if !r.usable(now) {
		return r.fallback.Bans(ctx)
	}
	bans, err := r.scanBans(ctx, now)
	r.record(ctx, err)
	if err != nil {
		return r.fallback.Bans(ctx)
	}
	return bans, nil
}

func (r *Redis) scanBans(ctx context.Context, now time.Time) ([]Ban, error) {
	ctx, cancel := redisContext(ctx, 4*r.timeout)
	defer cancel()
	var bans []Ban
	// One round trip per page of keys, not per key: with thousands of bans
	// a round trip each would outlast the timeout.
	const page = 1000
	type banKey struct {
		redis  string
		client netip.Prefix
	}
	keys := make([]banKey, 0, page)
	read := func() error {
		cmds := make([]*redis.SliceCmd, len(keys))
		if _, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range keys {
				cmds[i] = p.HMGet(ctx, k.redis, "until", "level")
			}
			return nil
		}); err != nil {
			return err
		}
		for i, cmd := range cmds {
			vals := cmd.Val()
			until, level := atoi(vals[0]), atoi(vals[1])
			if until > micros(now) && len(bans) < maxBans {
				bans = append(bans, Ban{Key: keys[i].client, Until: time.UnixMicro(until).UTC(), Level: int(level)})
			}
		}
		keys = keys[:0]
		return nil
	}
	iter := r.client.Scan(ctx, 0, r.prefix+"ban:*", page).Iterator()
	for len(bans) < maxBans && iter.Next(ctx) {
		key := iter.Val()
		k, err := netip.ParsePrefix(key[len(r.prefix+"ban:"):])
		if err != nil {
			continue // not ours
		}
		if keys = append(keys, banKey{key, k}); len(keys) == page {
			if err := read(); err != nil {
				return nil, err
			}
		}
	}
	if err := iter.Err(); err != nil {
		return nil, err
	}
	if len(keys) > 0 {
		if err := read(); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(bans, func(a, b Ban) int { return a.Until.Compare(b.Until) })
	return bans, nil
}

func atoi(v any) int64 {
	s, _ := v.(string)
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

func (r *Redis) activeBans(ctx context.Context) (int, error) {
	bans, err := r.Bans(ctx)
	return len(bans), err
}

// Lift ends the ban of key (see ParseKey) everywhere, and forgets its
// strikes and level. Lifting a key that is not banned does nothing.
func (r *Redis) Lift(ctx context.Context, key string) error {
	k, err := ParseKey(key)
	if err != nil {
		return err
	}
	if err := r.fallback.Lift(ctx, key); err != nil {
		return err
	}
	rctx, cancel := redisContext(ctx, r.timeout)
	defer cancel()
	err = r.client.Del(rctx, r.banKey(k), r.strikesKey(k)).Err()
	r.record(ctx, err)
	if err != nil {
		return fmt.Errorf("lift ban of %s in redis: %w", k, err)
	}
	r.log.InfoContext(ctx, "ban lifted", "key", k.String())
	return nil
}
