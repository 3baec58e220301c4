package config

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestLoadRateLimitDefaults(t *testing.T) {
	cfg, err := Load(env(nil))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := RateLimit{
		PerMinute: DefaultRateLimit,
		Burst:     DefaultBurst(DefaultRateLimit),
		RedisURL:  DefaultRedisURL,
	}
	if !reflect.DeepEqual(cfg.RateLimit, want) {
		t.Errorf("RateLimit = %+v, want %+v", cfg.RateLimit, want)
	}
}

func TestDefaultBurst(t *testing.T) {
	for perMinute, want := range map[int]int{0: 1, 1: 1, 9: 1, 10: 1, 60: 6, 600: 60, 1000000: 100000} {
		if got := DefaultBurst(perMinute); got != want {
			t.Errorf("DefaultBurst(%d) = %d, want %d", perMinute, got, want)
		}
	}
}

func TestLoadRateLimitValues(t *testing.T) {
	cfg, err := Load(env(map[string]string{
		"GATEWAY_RATE_LIMIT":      "60",
		"GATEWAY_RATE_BURST":      "5",
		"GATEWAY_RATE_LIMIT_FAIL": "closed",
		"GATEWAY_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7,2001:db8::/32,::ffff:198.51.100.1, 172.16.9.9/12",
		"REDIS_URL":               "redis://:pw@redis:6380/1",
	}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := RateLimit{
		PerMinute:  60,
		Burst:      5,
		FailClosed: true,
		TrustedProxies: []netip.Prefix{
			netip.MustParsePrefix("10.0.0.0/8"),
			netip.MustParsePrefix("192.0.2.7/32"),
			netip.MustParsePrefix("2001:db8::/32"),
			netip.MustParsePrefix("198.51.100.1/32"),
			netip.MustParsePrefix("172.16.0.0/12"),
		},
		RedisURL: "redis://:pw@redis:6380/1",
	}
	if !reflect.DeepEqual(cfg.RateLimit, want) {
		t.Errorf("RateLimit =\n%+v\nwant\n%+v", cfg.RateLimit, want)
	}
	// The burst follows the limit unless it is set.
	cfg, err = Load(env(map[string]string{"GATEWAY_RATE_LIMIT": "60", "GATEWAY_RATE_LIMIT_FAIL": "open"}))
	if err != nil || cfg.RateLimit.Burst != 6 || cfg.RateLimit.FailClosed {
		t.Errorf("GATEWAY_RATE_LIMIT=60: %+v, %v; want burst 6, fail open", cfg.RateLimit, err)
	}
	// 0 turns the limit off.
	if cfg, err := Load(env(map[string]string{"GATEWAY_RATE_LIMIT": "0"})); err != nil || cfg.RateLimit.PerMinute != 0 {
		t.Errorf("GATEWAY_RATE_LIMIT=0: %+v, %v", cfg.RateLimit, err)
	}
}

func TestLoadRateLimitInvalid(t *testing.T) {
	tests := []struct {
		name, value string
	}{
		{"GATEWAY_RATE_LIMIT", "-1"},
		{"GATEWAY_RATE_LIMIT", "1000001"},
		{"GATEWAY_RATE_LIMIT", "lots"},
		{"GATEWAY_RATE_BURST", "0"},
		{"GATEWAY_RATE_BURST", "1.5"},
		{"GATEWAY_RATE_LIMIT_FAIL", "Closed"},
		{"GATEWAY_RATE_LIMIT_FAIL", "maybe"},
		{"GATEWAY_TRUSTED_PROXIES", "10.0.0.0/33"},
		{"GATEWAY_TRUSTED_PROXIES", "10.0.0.0/8,proxy.local"},
	}
	for _, tt := range tests {
		_, err := Load(env(map[string]string{tt.name: tt.value}))
		if err == nil || !strings.Contains(err.Error(), tt.name+"=") {
			t.Errorf("%s=%q: error = %v, want one naming %s", tt.name, tt.value, err, tt.name)
		}
	}
}
