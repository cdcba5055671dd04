# Sourced by the stand-ins' postinst scripts: the debconf answer Jitsi's real postinst scripts
# read (jitsi-videobridge/jvb-hostname), with their fallback to "localhost".
jvb_hostname() {
	h=$(printf 'GET jitsi-videobridge/jvb-hostname\n' | debconf-communicate jitsi-videobridge2 2>/dev/null | sed -n 's/^0 //p')
	echo "${h:-localhost}"
}
