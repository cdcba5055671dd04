Section: net
Priority: optional
Standards-Version: 4.6.2
Package: jitsi-meet-web
Version: 1.0.0-1~ensemble
Maintainer: Ensemble CI <ci@ensemble.invalid>
Architecture: all
Files: web/index.html /usr/share/jitsi-meet/
Description: stand-in for Jitsi's jitsi-meet-web package (Ensemble CI)
 The front page only, so nginx serves rooms from /usr/share/jitsi-meet.
