//go:build !linux

package network

import (
	"context"
	"fmt"

	gnet "github.com/shirou/gopsutil/v4/net"
)

type psSource struct{}

// NewSource returns the gopsutil Source; procPath is unused off Linux.
func NewSource(string) (Source, error) { return psSource{}, nil }

func (psSource) Read(ctx context.Context) ([]Device, error) {
	counters, err := gnet.IOCountersWithContext(ctx, true)
	if err != nil {
		return nil, fmt.Errorf("network: reading counters: %w", err)
	}
	devs := make([]Device, 0, len(counters))
	for _, c := range counters {
		devs = append(devs, Device{Name: c.Name, ReceiveBytes: c.BytesRecv, ReceivePackets: c.PacketsRecv, TransmitBytes: c.BytesSent, TransmitPackets: c.PacketsSent})
	}
	return devs, nil
}
