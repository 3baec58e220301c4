package metrics

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestChatMetrics(t *testing.T) {
	m := New()
	c := NewChat(m.Registry())
	done := c.StreamStarted(250 * time.Millisecond)
	c.Throughput(11, 2*time.Second) // 5 tokens per second
	c.Throughput(1, time.Second)    // one event: no pace
	c.Cancelled(CancelSlowReader)
	c.SequenceError("gap")
	c.SequenceError("duplicate")
	c.SequenceError("duplicate")

	text := scrape(m)
	for _, want := range []string{
		"gateway_chat_streams_in_flight 1",
		`gateway_chat_time_to_first_token_seconds_bucket{le="0.25"} 1`,
		`gateway_chat_time_to_first_token_seconds_bucket{le="0.1"} 0`,
		"gateway_chat_tokens_per_second_count 1",
		"gateway_chat_tokens_per_second_sum 5",
		`gateway_chat_streams_cancelled_total{reason="slow_reader"} 1`,
		`gateway_chat_streams_cancelled_total{reason="shutdown"} 0`,
		`gateway_chat_sequence_errors_total{kind="gap"} 1`,
		`gateway_chat_sequence_errors_total{kind="duplicate"} 2`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
	done()
	if text := scrape(m); !strings.Contains(text, "gateway_chat_streams_in_flight 0\n") {
		t.Error("the stream is still in flight after done")
	}
}

func scrape(m *Metrics) string {
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	return w.Body.String()
}
