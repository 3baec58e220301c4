package ratelimit

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}
	tests := []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"no proxy", "192.0.2.1:1234", nil, "192.0.2.1"},
		{"an untrusted peer's X-Forwarded-For is ignored", "192.0.2.1:1234", []string{"198.51.100.7"}, "192.0.2.1"},
		{"a trusted proxy without X-Forwarded-For", "10.0.0.2:1234", nil, "10.0.0.2"},
		{"one trusted proxy", "10.0.0.2:1234", []string{"198.51.100.7"}, "198.51.100.7"},
		{"the rightmost untrusted, not what the client wrote", "10.0.0.2:1234", []string{"1.2.3.4, 198.51.100.7, 10.0.0.9"}, "198.51.100.7"},
		{"several fields read as one list", "10.0.0.2:1234", []string{"1.2.3.4, 198.51.100.7", "10.0.0.9"}, "198.51.100.7"},
		{"all trusted: the leftmost", "10.0.0.2:1234", []string{"10.1.1.1, 10.0.0.9"}, "10.1.1.1"},
		{"a malformed entry ends the walk", "10.0.0.2:1234", []string{"198.51.100.7, garbage, 10.0.0.9"}, "10.0.0.9"},
		{"a malformed last entry: the peer", "10.0.0.2:1234", []string{"198.51.100.7, unknown"}, "10.0.0.2"},
		{"IPv6", "[2001:db8::1]:1234", []string{"2001:DB8:0:0::5, 2001:db9::7"}, "2001:db9::7"},
		{"IPv4-mapped peer", "[::ffff:192.0.2.1]:1234", nil, "192.0.2.1"},
		{"IPv4-mapped hop", "10.0.0.2:1234", []string{"::ffff:198.51.100.7"}, "198.51.100.7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/v1/predict", nil)
			r.RemoteAddr = tt.peer
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := ClientIP(r, trusted); got != tt.want {
				t.Errorf("ClientIP = %q, want %q", got, tt.want)
			}
		})
	}
}
