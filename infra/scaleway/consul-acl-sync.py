#!/usr/bin/env python3
"""Make Consul's ACLs match the module's consul_acl output: policies, then every managed token.

Run it where the consul CLI reaches a Consul server (CONSUL_HTTP_ADDR, CONSUL_CACERT as usual),
with the management token (tofu output -raw consul_management_token) in CONSUL_HTTP_TOKEN:

    tofu output -json consul_acl | ./consul-acl-sync.py            # or --dry-run first

- every policy of the output is created, or updated when its rules differ;
- every token of the output is created with exactly its accessor and secret IDs (derived in
  OpenTofu, so the hosts already carry them in their user-data or Ansible variables); a token
  whose accessor exists with other settings is deleted and created again;
- every token whose description starts with "ensemble-managed " and that the output no longer
  lists (a removed node, a rotated generation) is deleted. Other tokens are never touched.

Running it again changes nothing. It prints one line per change and exits non-zero on the first
error, having changed only what it printed.
"""

import argparse
import json
import subprocess
import sys

MANAGED = "ensemble-managed "


def consul(*args, parse=True):
    cmd = ["consul", *args]
    try:
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=30).stdout
    except subprocess.CalledProcessError as e:
        sys.exit(f"consul-acl-sync: {' '.join(a if len(a) < 40 else a[:12] + '...' for a in cmd)}: {e.stderr.strip() or e}")
    except (OSError, subprocess.TimeoutExpired) as e:
        sys.exit(f"consul-acl-sync: {cmd[0]} {cmd[1]} {cmd[2]}: {e}")
    return json.loads(out) if parse else out


def token_shape(t):
    """The part of a token the sync owns, in one comparable form."""
    return (
        t.get("Description", ""),
        sorted(p["Name"] for p in t.get("Policies") or []),
        sorted((n["NodeName"], n["Datacenter"]) for n in t.get("NodeIdentities") or []),
    )


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dry-run", action="store_true", help="print the changes, make none")
    args = p.parse_args()
    try:
        want = json.load(sys.stdin)
        policies, tokens = want["policies"], want["tokens"]
    except (ValueError, KeyError, TypeError) as e:
        sys.exit(f"consul-acl-sync: stdin is not the consul_acl output (tofu output -json consul_acl): {e}")

    def change(line, *cmd):
        print(("would " if args.dry_run else "") + line)
        if not args.dry_run:
            consul(*cmd, parse=False)

    have_policies = {p["Name"]: p for p in consul("acl", "policy", "list", "-format=json")}
    for name, rules in sorted(policies.items()):
        if name not in have_policies:
            change(f"create policy {name}", "acl", "policy", "create", "-name", name, "-rules", rules)
            continue
        current = consul("acl", "policy", "read", "-id", have_policies[name]["ID"], "-format=json")
        if current.get("Rules", "").strip() != rules.strip():
            change(f"update policy {name}", "acl", "policy", "update", "-id", current["ID"], "-rules", rules)

    have = {t["AccessorID"]: t for t in consul("acl", "token", "list", "-format=json")}
    wanted = {t["accessor_id"] for t in tokens}
    for t in tokens:
        shape = (
            t["description"],
            sorted(t["policies"]),
            sorted((n["node_name"], n["datacenter"]) for n in t["node_identities"]),
        )
        old = have.get(t["accessor_id"])
        if old is not None and token_shape(old) == shape:
            continue
        if old is not None:
            change(f"delete token {old['Description']!r} (settings changed)", "acl", "token", "delete", "-accessor-id", t["accessor_id"])
        cmd = ["acl", "token", "create", "-accessor", t["accessor_id"], "-secret", t["secret_id"], "-description", t["description"]]
        for pol in t["policies"]:
            cmd += ["-policy-name", pol]
        for n in t["node_identities"]:
            cmd += ["-node-identity", f"{n['node_name']}:{n['datacenter']}"]
        change(f"create token {t['description']!r}", *cmd)
    for acc, old in sorted(have.items(), key=lambda kv: kv[1].get("Description", "")):
        if old.get("Description", "").startswith(MANAGED) and acc not in wanted:
            change(f"delete token {old['Description']!r} (no longer in the module)", "acl", "token", "delete", "-accessor-id", acc)


if __name__ == "__main__":
    main()
