// Stand-in for the config.js jitsi-meet-web-config installs (the real one is much longer).
var config = {
    hosts: {
        domain: 'jitsi-meet.example.com',
        muc: 'conference.jitsi-meet.example.com'
    },
    bosh: 'https://jitsi-meet.example.com/http-bind',
    websocket: 'wss://jitsi-meet.example.com/xmpp-websocket'
};
