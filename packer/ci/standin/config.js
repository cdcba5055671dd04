// Stand-in for the config.js jitsi-meet-web-config installs (the real one is much longer). Like
// the real one it reads nginx SSI variables (subdir, subdomain): served without SSI it does not
// even parse.
var subdir = '<!--# echo var="subdir" default="" -->';
var subdomain = "<!--# echo var="subdomain" default="" -->";

if (subdomain) {
    subdomain = subdomain.substring(0, subdomain.length - 1).split('.').join('_').toLowerCase() + '.';
}

var config = {
    hosts: {
        domain: 'jitsi-meet.example.com',
        muc: 'conference.' + subdomain + 'jitsi-meet.example.com'
    },
    bosh: 'https://jitsi-meet.example.com/' + subdir + 'http-bind',
    websocket: 'wss://jitsi-meet.example.com/' + subdir + 'xmpp-websocket'
};
