Section: net
Priority: optional
Standards-Version: 4.6.2
Package: jitsi-meet-web-config
Version: 1.0.0-1~ensemble
Maintainer: Ensemble CI <ci@ensemble.invalid>
Architecture: all
Depends: debconf, nginx
Files: config.js /usr/share/jitsi-meet-web-config/
 jitsi-meet.example /usr/share/jitsi-meet-web-config/
 hostname.sh /usr/share/jitsi-meet-web-config/
Postinst: web-config.postinst
Description: stand-in for Jitsi's jitsi-meet-web-config package (Ensemble CI)
 Writes <name>-config.js and an nginx site for the debconf host name, with the
 preseeded certificate paths, as the real postinst does.
