Section: net
Priority: optional
Standards-Version: 4.6.2
Package: jicofo
Version: 1.0.0-1~ensemble
Maintainer: Ensemble CI <ci@ensemble.invalid>
Architecture: all
Depends: python3
Files: jicofo.service /lib/systemd/system/
 jicofo/health /usr/share/jicofo-standin/about/
Postinst: jicofo.postinst
Description: stand-in for Jitsi's jicofo package (Ensemble CI)
 Answers jicofo's health check (127.0.0.1:8888/about/health) with a Python HTTP
 server, so the sidecar's jicofo probe runs in CI; no conference focus.
