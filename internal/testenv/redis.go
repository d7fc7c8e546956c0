package testenv

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisURL returns the Redis server of TEST_REDIS_URL, which scripts/test
// sets to a throwaway server, and a key prefix of this test's own; keys
// under the prefix are deleted when t ends. Without TEST_REDIS_URL the test
// is skipped, saying so: Redis is optional for signupguard, and not every
// machine has redis-server.
func RedisURL(t testing.TB) (url, prefix string) {
	t.Helper()
	url = os.Getenv("TEST_REDIS_URL")
	if url == "" {
		t.Skip("SKIPPED: TEST_REDIS_URL is not set (scripts/test sets it when redis-server is installed)")
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("TEST_REDIS_URL: %v", err)
	}
	c := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		t.Fatalf("TEST_REDIS_URL: %v", err)
	}
	prefix = "test:" + unique() + ":"
	t.Cleanup(func() {
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("delete test keys %s*: %v", prefix, err)
		}
	})
	return url, prefix
}
