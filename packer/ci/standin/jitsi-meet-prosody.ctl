Section: net
Priority: optional
Standards-Version: 4.6.2
Package: jitsi-meet-prosody
Version: 1.0.0-1~ensemble
Maintainer: Ensemble CI <ci@ensemble.invalid>
Architecture: all
Depends: debconf, prosody
Files: prosody.cfg.lua-jvb.example /usr/share/jitsi-meet-prosody/
 hostname.sh /usr/share/jitsi-meet-prosody/
Postinst: prosody.postinst
Description: stand-in for Jitsi's jitsi-meet-prosody package (Ensemble CI)
 Writes prosody's virtual hosts for the debconf host name, as the real postinst does.
