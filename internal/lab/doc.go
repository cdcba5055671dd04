// Package lab is the room for code that never ships: the real test servers (services,
// testenv), the demo and soak fleet (fleet), the chaos soak (soak), the Jitsi
// Videobridge emulator (jvbemu), the XMPP/TURN round trip (xmppcheck) and the image test's
// HTTP and Consul checks (imagecheck). Tests, benchmarks, ensemble-demo, ensemble-jvbemu,
// ensemble-benchfleet, ensemble-xmppcheck and ensemble-imagecheck use it; scripts/check-imports.sh fails `make lint` when a shipped
// binary (ensemble-sidecar, ensemble-selector, ensemble-exporter, ensemble-firstboot)
// depends on anything below it.
package lab
