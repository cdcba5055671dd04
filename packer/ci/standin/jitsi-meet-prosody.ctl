Section: net
Priority: optional
Standards-Version: 4.6.2
Package: jitsi-meet-prosody
Version: 1.0.0-1~ensemble
Maintainer: Ensemble CI <ci@ensemble.invalid>
Architecture: all
Depends: debconf, prosody (>= 13), openssl, ca-certificates
Files: prosody.cfg.lua-jvb.example /usr/share/jitsi-meet-prosody/
 hostname.sh /usr/share/jitsi-meet-prosody/
 plugins/mod_auth_jitsi-anonymous.lua /usr/share/jitsi-meet/prosody-plugins/
 plugins/mod_noop.lua.in /usr/share/jitsi-meet/prosody-plugins/
 plugins/noop-modules.list /usr/share/jitsi-meet/prosody-plugins/
Postinst: prosody.postinst
Description: stand-in for Jitsi's jitsi-meet-prosody package (Ensemble CI)
 Writes prosody's configuration for the debconf host name as the real postinst does
 (virtual hosts, components, the global TURN secret, focus and jvb users, certificates),
 with no-op stand-ins of Jitsi's prosody plugins.
