package kafka

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// A topic the gateway has just created is missing from the metadata its
// client fetched a moment before: with franz-go's default minimum age (5 s)
// the set-up on a fresh prefix waited up to 5 s for the next fetch.
func TestSetUpDoesNotWaitFiveSecondsForTheMetadataOfNewTopics(t *testing.T) {
	tr, err := New(Options{Brokers: []string{"127.0.0.1:1"}, Prefix: "p", InstanceID: "gw"})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.client.Close()
	age, ok := tr.client.OptValue(kgo.MetadataMinAge).(time.Duration)
	if !ok || age > time.Second {
		t.Fatalf("the client waits %v between metadata fetches, want at most 1s", age)
	}
}
