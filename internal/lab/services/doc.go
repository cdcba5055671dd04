// Package services starts real Consul, nginx and Prometheus processes on
// 127.0.0.1 with free ports, waits until each one answers, and stops them
// again without leaving orphans. Tests use it through internal/lab/testenv; the
// demo supervisor uses it directly.
package services
