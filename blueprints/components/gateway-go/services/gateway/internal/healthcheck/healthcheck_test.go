package healthcheck

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

// Check probes liveness, Ready readiness (bug: compose's healthcheck could
// only ask /healthz, so a gateway that answered 503 on /readyz passed it).
func TestCheckAndReady(t *testing.T) {
	tests := []struct {
		name    string
		probe   func(context.Context, string, int) error
		path    string
		status  int
		wantErr bool
	}{
		{"healthy", Check, "/healthz", http.StatusOK, false},
		{"unhealthy", Check, "/healthz", http.StatusServiceUnavailable, true},
		{"ready", Ready, "/readyz", http.StatusOK, false},
		{"not ready", Ready, "/readyz", http.StatusServiceUnavailable, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != tt.path {
					t.Errorf("probed %s, want %s", r.URL.Path, tt.path)
				}
				w.WriteHeader(tt.status)
			}))
			defer srv.Close()
			if err := tt.probe(context.Background(), "0.0.0.0", port(t, srv.Listener.Addr())); (err != nil) != tt.wantErr {
				t.Errorf("probe = %v, want error: %v", err, tt.wantErr)
			}
		})
	}
}

func TestCheckNothingListening(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := port(t, ln.Addr())
	ln.Close()
	if err := Check(context.Background(), "", p); err == nil {
		t.Error("Check() = nil with nothing listening")
	}
}

// The probe goes where the gateway listens: GATEWAY_HOST, or loopback when
// that is a wildcard (bug: it always probed 127.0.0.1, so a gateway bound
// to one address was reported unhealthy).
func TestProbeAddr(t *testing.T) {
	tests := []struct {
		host, want string
	}{
		{"", "127.0.0.1:8080"},
		{"0.0.0.0", "127.0.0.1:8080"},
		{"::", "127.0.0.1:8080"},
		{"127.0.0.1", "127.0.0.1:8080"},
		{"10.1.2.3", "10.1.2.3:8080"},
		{"::1", "[::1]:8080"},
		{"gateway.internal", "gateway.internal:8080"},
	}
	for _, tt := range tests {
		if got := probeAddr(tt.host, 8080); got != tt.want {
			t.Errorf("probeAddr(%q, 8080) = %q, want %q", tt.host, got, tt.want)
		}
	}
}

func port(t *testing.T, addr net.Addr) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr.String())
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
