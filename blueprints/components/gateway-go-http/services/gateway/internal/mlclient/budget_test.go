package mlclient

import (
	"testing"
	"time"
)

func TestBudgetMs(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want int64
	}{
		{5 * time.Second, 5000},
		{1999 * time.Microsecond, 1}, // rounded down: never more than the gateway waits
		{time.Microsecond, 1},        // at least 1: a valid header, spent at once
		{0, 1},
		{-time.Second, 1},
	} {
		if got := budgetMs(tt.d); got != tt.want {
			t.Errorf("budgetMs(%v) = %d, want %d", tt.d, got, tt.want)
		}
	}
}
