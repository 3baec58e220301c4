// Package healthcheck probes a running gateway, for container healthchecks
// in images without a shell or curl.
package healthcheck

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Timeout bounds one probe.
const Timeout = 3 * time.Second

// Check asks GET http://127.0.0.1:port/healthz and wants 200.
func Check(ctx context.Context, port int) error {
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	url := fmt.Sprintf("http://127.0.0.1:%d/healthz", port)
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
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}
