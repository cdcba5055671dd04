# shellcheck shell=bash disable=SC2154,SC2034 # the globals are set and read by scripts/test-images.sh
# Stage image: what packer's last step does (the cleanup script), then the tarball a snapshot
# would be. check_image_secrets (run by the fleet stage, once the run's secrets exist) greps the
# tarball for every secret and node name of the run.

image_root="$work/image"
image_tar="$work/image.tar"

make_image() {
	mv "$jitsi_root" "$image_root"
	rm -rf "$image_root/var/local/jitsi-standin"
	chroot "$image_root" /usr/local/sbin/ensemble-image-cleanup >"$work/cleanup.log" 2>&1 ||
		{ cat "$work/cleanup.log"; die "ensemble-image-cleanup failed"; }
	[[ ! -s $image_root/etc/machine-id ]] || die "the image has a machine ID"
	! compgen -G "$image_root/etc/ssh/ssh_host_*" >/dev/null || die "the image has SSH host keys"
	[[ ! -e $image_root/etc/ssl/ensemble/node.key ]] || die "the image has a TLS key"
	tar -C "$image_root" -cf "$image_tar" .
	echo "   image: $(du -m "$image_tar" | cut -f1) MB"
}

# No secret and no node name of this run is in the image a snapshot would be made of.
check_image_secrets() {
	local name hits=0 value
	local values=("$gossip" "$mgmt" "$selector_token")
	for name in node-a node-b node-c; do
		values+=("${agent_tokens[$name]}" "${sidecar_tokens[$name]}" "${turn_secrets[$name]}" "$name.ci.invalid")
		# the private key's base64 body, line by line
		while read -r value; do values+=("$value"); done < <(grep -v -- '-----' "$work/$name.key")
	done
	while read -r value; do values+=("$value"); done < <(grep -v -- '-----' "$work/consul-tls/consul-agent-ca-key.pem")
	for value in "${values[@]}"; do
		[[ -n $value ]] || continue
		if grep -qaF -- "$value" "$image_tar"; then
			echo "   in the image: ${value:0:12}..." >&2
			hits=$((hits + 1))
		fi
	done
	[[ $hits == 0 ]] || die "the image tarball holds $hits secret or node-specific values"
	echo "   image: none of ${#values[@]} secrets and node names of this run in the tarball"
}

