package limit

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// Rate is N events per period Per, with up to Burst at once. A token bucket
// with this rate starts full, so in the first period it lets Burst + N
// through, and N in every period after. The zero Rate means no limit.
type Rate struct {
	N     int
	Per   time.Duration
	Burst int
}

// IsZero reports whether r is the zero Rate: no limit.
func (r Rate) IsZero() bool { return r == Rate{} }

// limit returns r as x/time/rate's events per second.
func (r Rate) limit() rate.Limit {
	return rate.Limit(float64(r.N) / r.Per.Seconds())
}

// interval returns the time one token takes to refill.
func (r Rate) interval() time.Duration {
	return r.Per / time.Duration(r.N)
}

// String returns r in the form ParseRate reads, without the burst.
func (r Rate) String() string {
	if r.IsZero() {
		return "off"
	}
	for _, u := range units {
		if r.Per == u.per {
			return strconv.Itoa(r.N) + "/" + u.names[0]
		}
	}
	return fmt.Sprintf("%d/%s", r.N, r.Per)
}

var units = []struct {
	names []string
	per   time.Duration
}{
	{[]string{"s", "sec", "second"}, time.Second},
	{[]string{"min", "m", "minute"}, time.Minute},
	{[]string{"h", "hour"}, time.Hour},
}

// maxN bounds N so that N/Per stays a sane number of events per second.
const maxN = 1_000_000

// ParseRate reads "N/s", "N/min" or "N/h" (also "sec", "second", "m",
// "minute", "hour"), or "off" for no limit. The burst is set to N; callers
// that want a smaller one set it after.
func ParseRate(s string) (Rate, error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "off") {
		return Rate{}, nil
	}
	num, unit, ok := strings.Cut(s, "/")
	if !ok {
		return Rate{}, fmt.Errorf("rate %q: want N/s, N/min, N/h or off", s)
	}
	n, err := strconv.Atoi(strings.TrimSpace(num))
	if err != nil || n <= 0 || n > maxN {
		return Rate{}, fmt.Errorf("rate %q: the count must be a whole number from 1 to %d", s, maxN)
	}
	unit = strings.ToLower(strings.TrimSpace(unit))
	for _, u := range units {
		for _, name := range u.names {
			if unit == name {
				return Rate{N: n, Per: u.per, Burst: n}, nil
			}
		}
	}
	return Rate{}, fmt.Errorf("rate %q: the period must be s, min or h", s)
}
