Section: net
Priority: optional
Standards-Version: 4.6.2
Package: jitsi-videobridge2
Version: 2.3.209-1~ensemble
Maintainer: Ensemble CI <ci@ensemble.invalid>
Architecture: amd64
Depends: debconf
Files: ensemble-jvbemu /usr/share/jitsi-videobridge/
 jitsi-videobridge2.service /lib/systemd/system/
 jvb.conf.in /usr/share/jitsi-videobridge/
 hostname.sh /usr/share/jitsi-videobridge/
Postinst: jvb.postinst
Description: stand-in for Jitsi Videobridge (Ensemble CI)
 Carries ensemble-jvbemu as the bridge service on 127.0.0.1:8080, so a converged
 image has a bridge to export without reaching download.jitsi.org. Its postinst
 writes jvb.conf for the debconf host name, as the real one does.
