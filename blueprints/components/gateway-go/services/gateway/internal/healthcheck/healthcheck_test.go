package healthcheck

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		wantErr bool
	}{
		{"healthy", http.StatusOK, false},
		{"unhealthy", http.StatusServiceUnavailable, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/healthz" {
					t.Errorf("probed %s, want /healthz", r.URL.Path)
				}
				w.WriteHeader(tt.status)
			}))
			defer srv.Close()
			if err := Check(context.Background(), port(t, srv.Listener.Addr())); (err != nil) != tt.wantErr {
				t.Errorf("Check() = %v, want error: %v", err, tt.wantErr)
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
	if err := Check(context.Background(), p); err == nil {
		t.Error("Check() = nil with nothing listening")
	}
}

func port(t *testing.T, addr net.Addr) int {
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
