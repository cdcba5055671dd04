Section: net
Priority: optional
Standards-Version: 4.6.2
Package: jitsi-meet-prosody
Version: 1.0.0-1~ensemble
Maintainer: Ensemble CI <ci@ensemble.invalid>
Architecture: all
Description: stand-in for Jitsi's jitsi-meet-prosody package (Ensemble CI)
 An empty package with the name of Jitsi's, so the jitsi role's install path runs
 against a local repository in CI.
