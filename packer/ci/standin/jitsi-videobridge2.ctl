Section: net
Priority: optional
Standards-Version: 4.6.2
Package: jitsi-videobridge2
Version: 2.3.209-1~ensemble
Maintainer: Ensemble CI <ci@ensemble.invalid>
Architecture: amd64
Files: ensemble-jvbemu /usr/share/jitsi-videobridge/
 jitsi-videobridge2.service /lib/systemd/system/
 jvb.conf /etc/jitsi/videobridge/
Description: stand-in for Jitsi Videobridge (Ensemble CI)
 Carries ensemble-jvbemu as the bridge service on 127.0.0.1:8080, so a converged
 image has a bridge to export without reaching download.jitsi.org.
