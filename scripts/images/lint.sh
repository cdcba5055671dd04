# shellcheck shell=bash disable=SC2154,SC2034 # the globals are set and read by scripts/test-images.sh
# Stage lint: ansible-lint, --syntax-check per playbook, packer fmt -check / init / validate (and
# validate must refuse a source image that is not a UUID); the jitsi role's apt key check refuses
# a bundle of two keys and a key that is not the pinned one.

lint() {
	(cd "$repo/ansible" && ansible-lint --nocolor -q)
	local p
	for p in site base jitsi selector monitoring; do
		(cd "$repo/ansible" && ansible-playbook --syntax-check "$p.yml" >/dev/null)
	done
	"$PACKER" fmt -check -diff "$repo/packer"
	"$PACKER" init "$repo/packer" >/dev/null
	"$PACKER" validate -var source_image=11111111-1111-1111-1111-111111111111 \
		-var manifest="$work/manifest.json" "$repo/packer"
	# plugin v1.0.4 would look a label up through Scaleway's retired marketplace v1 API
	if "$PACKER" validate -var source_image=debian_bookworm -var manifest="$work/manifest.json" \
		"$repo/packer" >"$work/validate-label.log" 2>&1; then
		die "packer validate accepted a source image label; it must require a UUID"
	fi
	grep -q 'must be an image UUID' "$work/validate-label.log" || { cat "$work/validate-label.log"; die "unexpected validate error"; }
	timed key-pin check_key_pin
	# This test's own scripts (scripts/install-deps.sh installs shellcheck).
	(cd "$repo" && shellcheck -x scripts/test-images.sh scripts/images/*.sh)
}

# The jitsi role's apt key check (N6) alone: a file with exactly the pinned key passes; the
# pinned key bundled with a second one, and another single key, are refused.
check_key_pin() {
	local g="$work/keypin" fpr name
	mkdir -p "$g"
	mkdir -m 0700 "$g/gnupg" "$g/check"
	for name in pinned other; do
		GNUPGHOME="$g/gnupg" gpg --batch --quiet --passphrase '' --quick-gen-key "$name <$name@ci.invalid>" ed25519 sign never 2>/dev/null
	done
	fpr=$(GNUPGHOME="$g/gnupg" gpg --batch --list-keys --with-colons 'pinned <' 2>/dev/null | awk -F: '/^fpr/{print $10; exit}')
	GNUPGHOME="$g/gnupg" gpg --batch --armor --export "$fpr" >"$g/one.asc"
	GNUPGHOME="$g/gnupg" gpg --batch --armor --export >"$g/two.asc"
	GNUPGHOME="$g/gnupg" gpg --batch --armor --export 'other <' >"$g/other.asc"
	key_check() { (cd "$repo/ansible" && ansible-playbook tests/repository-key.yml -e key_file="$g/$1.asc" \
		-e fingerprint="$fpr" -e gnupg_home="$g/check") >"$g/$1.log" 2>&1; }
	key_check one || { cat "$g/one.log"; die "the apt key check refused the pinned key alone"; }
	! key_check two || die "the apt key check accepted the pinned key bundled with another"
	grep -q 'holds 2 keys' "$g/two.log" || { cat "$g/two.log"; die "the apt key check failed for another reason"; }
	! key_check other || die "the apt key check accepted a key that is not the pinned one"
	GNUPGHOME="$g/gnupg" gpgconf --kill gpg-agent # key generation started one
	echo "   apt key pin: the pinned key alone passes; bundled with a second key, or another key, refused"
}
