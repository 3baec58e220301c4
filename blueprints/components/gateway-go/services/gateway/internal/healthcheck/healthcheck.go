// Package healthcheck probes a running gateway, for container healthchecks
// in images without a shell or curl.
package healthcheck

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Timeout bounds one probe.
const Timeout = 3 * time.Second

// Check asks GET http://host:port/healthz and wants 200: the gateway is
// alive (the image's HEALTHCHECK: an orchestrator replaces what is not). A
// wildcard host (0.0.0.0, ::, or none) is probed on 127.0.0.1.
func Check(ctx context.Context, host string, port int) error {
	return probe(ctx, host, port, "/healthz")
}

// Ready asks GET http://host:port/readyz and wants 200: the gateway takes
// traffic now (compose's healthcheck, which gates depends_on and
// `up --wait`, and never restarts anything).
func Ready(ctx context.Context, host string, port int) error {
	return probe(ctx, host, port, "/readyz")
}

func probe(ctx context.Context, host string, port int, path string) error {
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	url := "http://" + probeAddr(host, port) + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: &http.Transport{Proxy: nil}}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16)) // read to the end, as a client should
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// probeAddr is where a gateway listening on host:port answers: host, or
// 127.0.0.1 for a wildcard.
func probeAddr(host string, port int) string {
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}
