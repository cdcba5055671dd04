// Package imagecheck holds the assertions of scripts/test-images.sh that talk HTTP to Consul,
// Prometheus, the selector, a node's sidecar and its nginx: JSON parsed with types instead of
// grep, and retries bounded by a deadline instead of counted sleeps. ensemble-imagecheck is its
// command; the image test's stage scripts call it inside the test's network namespaces. Lab only:
// no shipped binary links it.
//
// Each check is a function that returns nil or an error saying what it saw and what it wanted;
// Until retries one until it passes or its time is up.
package imagecheck
