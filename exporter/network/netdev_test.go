package network

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseNetDev(t *testing.T) {
	tests := []struct {
		file    string
		want    []Device
		wantErr string
	}{
		{file: "proc/net/dev", want: []Device{
			{Name: "lo", ReceiveBytes: 1234567, ReceivePackets: 8901, TransmitBytes: 1234567, TransmitPackets: 8901},
			{Name: "eth0", ReceiveBytes: 98765432100, ReceivePackets: 123456789, TransmitBytes: 45678901234, TransmitPackets: 98765432},
			{Name: "veth1a2b", ReceiveBytes: 5000, ReceivePackets: 40, TransmitBytes: 6000, TransmitPackets: 50},
			{Name: "docker0"},
		}},
		{file: "netdev/ok.txt", want: []Device{{Name: "eth0", ReceiveBytes: 1, ReceivePackets: 2, TransmitBytes: 9, TransmitPackets: 10}}},
		{file: "netdev/no-colon.txt", wantErr: "no colon"},
		{file: "netdev/short.txt", wantErr: `eth0: field 10: "" is not a counter`},
		{file: "netdev/no-name.txt", wantErr: "no device name"},
		{file: "netdev/negative.txt", wantErr: `field 4: "-4"`},
	}
	for _, tt := range tests {
		b, err := os.ReadFile(filepath.Join("testdata", tt.file))
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseNetDev(b)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: err = %v, want %q", tt.file, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %+v, %v; want %+v", tt.file, got, err, tt.want)
		}
	}
}

// FuzzParseNetDev: any input gives devices or an error, never a panic, and
// every device has a name.
func FuzzParseNetDev(f *testing.F) {
	files, err := filepath.Glob("testdata/netdev/*.txt")
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range append(files, "testdata/proc/net/dev") {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		devs, err := ParseNetDev(b)
		if err != nil {
			return
		}
		for _, d := range devs {
			if strings.TrimSpace(d.Name) != d.Name || d.Name == "" {
				t.Errorf("device name %q", d.Name)
			}
		}
	})
}
