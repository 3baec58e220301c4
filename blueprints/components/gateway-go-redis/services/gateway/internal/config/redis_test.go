package config

import (
	"strings"
	"testing"
)

func TestLoadRedisURLInvalid(t *testing.T) {
	for _, value := range []string{
		"localhost:6379",
		"http://redis:6379",
		"redis://redis:6379/db",
		// Bug: go-redis reads redis:HOST (no "//") as localhost:6379 and drops
		// the rest, password included; the gateway started against the wrong
		// Redis, while the Node.js gateway and the worker refuse the value.
		"redis:redis:6379",
		"rediss:redis:6380/0",
	} {
		_, err := Load(env(map[string]string{"REDIS_URL": value}))
		if err == nil || !strings.Contains(err.Error(), "REDIS_URL") {
			t.Errorf("REDIS_URL=%q: error = %v, want one naming REDIS_URL", value, err)
			continue
		}
		// The transport and the rate limiter may both read it: named once.
		if n := strings.Count(err.Error(), "REDIS_URL="); n != 1 {
			t.Errorf("REDIS_URL=%q: named %d times: %v", value, n, err)
		}
	}
}

// Bug: a malformed REDIS_URL showed its password, in
// the value and in the parser's message, which quotes what it rejects (a
// password holding "/" gave `invalid port ":s3cr3t"`). The message stays,
// taken from the masked URL.
func TestLoadRedisURLHidesPasswordsOfMalformedURLs(t *testing.T) {
	tests := []struct {
		value, reason string // reason: what the error still says
	}{
		{"redis//:s3cr3t-pa55@redis:6379/0", "invalid URL scheme"},
		{"redis:/:s3cr3t-pa55@redis:6379/0", "invalid URL path"},
		{"redis:///:s3cr3t-pa55@redis:6379/0", "invalid URL path"},
		{"redis://:s3cr3t/pa55@redis:6379/0", "percent-encode"},
		{"redis://:12/s3cr3t-pa55@redis:6379/0", "percent-encode"},
		{"redis://:s3cr3t#pa55@redis:6379/0", "percent-encode"},
		{"redis://:s3cr3t-pa55@redis:6379/db", `invalid database number: "db"`},
		{"http://:s3cr3t-pa55@redis:6379/0", "invalid URL scheme"},
		{"redis:s3cr3t-pa55@redis:6379/0", "no // after the scheme"},
	}
	for _, tt := range tests {
		_, err := Load(env(map[string]string{"REDIS_URL": tt.value}))
		if err == nil {
			t.Errorf("REDIS_URL=%q accepted", tt.value)
			continue
		}
		msg := err.Error()
		for _, piece := range []string{"s3cr3t", "pa55"} {
			if strings.Contains(msg, piece) {
				t.Errorf("REDIS_URL=%q: the error shows the password (%q): %s", tt.value, piece, msg)
			}
		}
		if !strings.Contains(msg, "REDIS_URL=") || !strings.Contains(msg, tt.reason) {
			t.Errorf("REDIS_URL=%q: error %q should name REDIS_URL and say %q", tt.value, msg, tt.reason)
		}
	}
}
