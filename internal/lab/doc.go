// Package lab is the room for code that never ships: the real test servers (services,
// testenv), the demo and soak fleet (fleet), the chaos soak (soak), the Jitsi
// Videobridge emulator (jvbemu) and the XMPP/TURN round trip (xmppcheck). Tests,
// benchmarks, ensemble-demo, ensemble-jvbemu, ensemble-benchfleet and ensemble-xmppcheck
// use it; scripts/check-imports.sh fails `make lint` when a shipped
// binary (ensemble-sidecar, ensemble-selector, ensemble-exporter, ensemble-firstboot)
// depends on anything below it.
package lab
