package ratelimit

import (
	"net/http"
	"net/netip"
	"strings"
)

// ClientIP is the address r's budget is kept under when the gateway asks
// no credential: the peer's, unless the peer is a trusted proxy
// (GATEWAY_TRUSTED_PROXIES). Then X-Forwarded-For (all its fields, joined)
// is read from the right, where each proxy appended the address it saw:
// trusted addresses are skipped and the first that is not is the client's.
// A malformed entry ends the walk, and the last address read counts (a
// client can write anything to the left of what its proxies appended);
// when every one is trusted, the leftmost. IPv4-mapped IPv6 addresses are
// read as IPv4.
func ClientIP(r *http.Request, trusted []netip.Prefix) string {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	addr := peer.Addr().Unmap()
	if !contains(trusted, addr) {
		return addr.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		addr = hop.Unmap()
		if !contains(trusted, addr) {
			break
		}
	}
	return addr.String()
}

func contains(prefixes []netip.Prefix, addr netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
