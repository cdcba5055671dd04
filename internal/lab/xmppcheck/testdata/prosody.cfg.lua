-- The part of jitsi-meet-prosody's configuration the round trip uses: the anonymous internal
-- domain with BOSH and WebSocket, the conference MUC, and TURN credentials from
-- mod_external_services with a shared secret (the tests' secret is s3cret-turn).
modules_enabled = { "saslauth", "disco", "ping", "bosh", "websocket", "external_services" }
consider_bosh_secure = true
consider_websocket_secure = true
external_service_secret = "s3cret-turn"
external_services = {
    { type = "stun", host = "meet-0003.example.org", port = 3478 },
    { type = "turns", host = "meet-0003.example.org", port = 5349, transport = "tcp", secret = true, ttl = 86400, algorithm = "turn" },
}
VirtualHost "meet.jitsi"
    authentication = "anonymous"
Component "conference.meet.jitsi" "muc"
