package upstream

import (
	"context"
	"errors"
	"io"
	"sync"
)

// Queue holds the events of one stream between the transport, which pushes
// them as they come, and the HTTP API, which takes them as the client reads.
// It is bounded: Push never blocks (the transport's reader must go on for
// the other streams), and one event more than it holds ends the stream
// with ErrSlowReader, dropping the events still waiting.
type Queue struct {
	mu       sync.Mutex
	events   []Event
	capacity int
	started  bool          // an event was pushed
	err      error         // set once: why the stream ended (io.EOF: its last event came)
	wake     chan struct{} // signals the one reader that something changed
}

// NewQueue returns a queue that holds up to capacity events (at least one).
func NewQueue(capacity int) *Queue {
	return &Queue{capacity: max(capacity, 1), wake: make(chan struct{}, 1)}
}

// Push adds an event. It returns false when the queue takes no more: the
// stream had ended, or this event overflowed it (then the stream ends with
// ErrSlowReader, and the caller cancels the generation).
func (q *Queue) Push(ev Event) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err != nil {
		return false
	}
	if len(q.events) >= q.capacity {
		q.events = nil // the client will not get them: it reads too slowly
		q.err = ErrSlowReader
		q.signal()
		return false
	}
	q.events = append(q.events, ev)
	q.started = true
	q.signal()
	return true
}

// End ends the stream after the events already queued: err is io.EOF when
// the last event came, the reason otherwise. Only the first End counts;
// it reports whether this one did.
func (q *Queue) End(err error) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err != nil {
		return false
	}
	q.err = err
	q.signal()
	return true
}

// Next returns the next event, or the reason the stream ended once no
// event waits (io.EOF after the last one), or ctx's error.
func (q *Queue) Next(ctx context.Context) (Event, error) {
	for {
		q.mu.Lock()
		if len(q.events) > 0 {
			ev := q.events[0]
			q.events[0] = Event{} // let the bytes go
			q.events = q.events[1:]
			q.mu.Unlock()
			return ev, nil
		}
		err := q.err
		q.mu.Unlock()
		if err != nil {
			return Event{}, err
		}
		if err := q.await(ctx); err != nil {
			return Event{}, err
		}
	}
}

// Wait waits for the stream's first event, its end, or ctx to be done. It
// returns nil once the stream began (an event was pushed, even if the
// queue overflowed since: Next tells) or ended normally (io.EOF), the
// reason of any other end before the first event, or ctx's error.
func (q *Queue) Wait(ctx context.Context) error {
	for {
		q.mu.Lock()
		started, err := q.started, q.err
		q.mu.Unlock()
		switch {
		case started || errors.Is(err, io.EOF):
			return nil
		case err != nil:
			return err
		}
		if err := q.await(ctx); err != nil {
			return err
		}
	}
}

// await blocks until the next signal or ctx is done.
func (q *Queue) await(ctx context.Context) error {
	select {
	case <-q.wake:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// signal wakes the reader without blocking; q.mu is held.
func (q *Queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
}
