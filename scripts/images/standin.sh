# shellcheck shell=bash disable=SC2154,SC2034 # the globals are set and read by scripts/test-images.sh
# Stage standin: Jitsi's packages built with equivs into a signed local apt repository; their
# postinst scripts write the debconf host name where the real ones do (prosody's: jitsi-meet-
# prosody's whole configuration), and the videobridge stand-in runs ensemble-jvbemu as the bridge.

# Built once per content of packer/ci/standin and the emulator binary.
standin_repo() {
	local src="$repo/packer/ci/standin" key debs
	key=$( (cd "$src" && find . -type f | sort | xargs cat; cat "$work/bin/ensemble-jvbemu") | sha256sum | cut -c1-12)
	debs="$cache/images/standin-$key"
	if [[ ! -d $debs ]]; then
		mkdir -p "$work/equivs"
		cp -r "$src"/. "$work/equivs/"
		cp "$work/bin/ensemble-jvbemu" "$work/equivs/"
		local ctl
		for ctl in "$work"/equivs/*.ctl; do
			# nostrip: the emulator is a Go binary, which dh_dwz cannot process.
			(cd "$work/equivs" && DEB_BUILD_OPTIONS=nostrip equivs-build "$ctl" >"$ctl.log" 2>&1) ||
				{ tail -20 "$ctl.log"; die "equivs-build $(basename "$ctl") failed"; }
		done
		mkdir -p "$debs.tmp.$$"
		mv "$work"/equivs/*.deb "$debs.tmp.$$/"
		rm -rf "$debs"
		mv "$debs.tmp.$$" "$debs"
	fi

	# A signed repository, as Jitsi's is: a throwaway key, reprepro, the public key beside it.
	export GNUPGHOME="$work/gnupg"
	mkdir -m 0700 "$GNUPGHOME"
	gpg --batch --quiet --passphrase '' --quick-gen-key 'Ensemble CI stand-ins <ci@ensemble.invalid>' ed25519 sign never 2>/dev/null
	local fpr
	fpr=$(gpg --batch --list-keys --with-colons 2>/dev/null | awk -F: '/^fpr/{print $10; exit}')
	mkdir -p "$work/repo/conf"
	printf 'Codename: %s\nComponents: main\nArchitectures: amd64\nSignWith: %s\n' "$suite" "$fpr" >"$work/repo/conf/distributions"
	reprepro -b "$work/repo" --silent includedeb "$suite" "$debs"/*.deb
	gpg --batch --armor --export "$fpr" >"$work/repo/key.asc"
	gpgconf --kill gpg-agent # signing started one
	unset GNUPGHOME
	# The role checks the key it fetches against this fingerprint, as it does Jitsi's.
	cat >>"$work/vars.yml" <<EOF2
jitsi_apt_key_url: file:///var/local/jitsi-standin/key.asc
jitsi_apt_key_fingerprint: "$fpr"
jitsi_apt_repository: "deb [signed-by=/etc/apt/keyrings/jitsi.asc] file:/var/local/jitsi-standin $suite main"
EOF2
}
