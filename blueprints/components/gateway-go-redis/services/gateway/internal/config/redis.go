package config

import (
	"net/url"

	"github.com/redis/go-redis/v9"
)

// DefaultRedisURL is the default of REDIS_URL.
const DefaultRedisURL = "redis://localhost:6379/0"

// redisURL reads REDIS_URL: the one Redis of the gateway, whoever uses it
// (the transport, the rate limiter). A bad URL is named once, however many
// read it.
func (r *reader) redisURL() string {
	v := r.str("REDIS_URL", DefaultRedisURL)
	if problem := redisURLProblem(v); problem != "" {
		r.fail("REDIS_URL", v, "must be a redis://, rediss:// or unix:// URL"+problem)
	}
	return v
}

// redisURLProblem says what is wrong with REDIS_URL v, "" when nothing is.
// go-redis's messages quote what they reject, which may be a piece of the
// password: they are taken for the masked URL.
func redisURLProblem(v string) string {
	if _, err := redis.ParseURL(v); err == nil {
		if p, err := url.Parse(v); err == nil && p.Opaque == "" {
			return ""
		}
		// go-redis reads redis:HOST as localhost:6379 and drops the rest,
		// password included.
		return " (no // after the scheme)"
	}
	masked, _ := redact(v)
	if _, err := redis.ParseURL(masked); err != nil {
		return ": " + err.Error()
	}
	return " (percent-encode any / ? # @ % or space in the password)"
}
