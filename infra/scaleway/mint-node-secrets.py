#!/usr/bin/env python3
"""Make each Jitsi node's secrets and print them as the module's node_secrets input.

Run it where the consul CLI reaches a Consul server with a token that may create ACL tokens
(CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN or CONSUL_HTTP_TOKEN_FILE, CONSUL_CACERT as usual):

    ./mint-node-secrets.py --prefix meet --count 5 --datacenter dc1 \
        --existing node-secrets.auto.tfvars.json > new.json && mv new.json node-secrets.auto.tfvars.json

For every node name <prefix>-0001 ... <prefix>-<count> missing from --existing it creates
  - an agent token with the node identity <name>:<datacenter> (node "<name>" write, service read),
  - a sidecar token with the policy ensemble-jitsi-sidecar (service "jitsi" write only),
  - a coturn secret of 32 random bytes,
and keeps every entry --existing already has (also those above --count: scaling down does not
drop a node's secrets before the node is gone; delete them with --forget after it is).
--rotate NAME mints new secrets for one node and prints the old accessor IDs on stderr, to
delete (consul acl token delete -accessor-id ...) once the node has rebooted with the new ones.

The output is a tfvars JSON document, {"node_secrets": {...}}: keep it out of git (.gitignore
covers *.auto.tfvars.json) or in a secrets store, and pass it to tofu.
"""

import argparse
import json
import re
import secrets
import subprocess
import sys

NAME = re.compile(r"^[a-z][a-z0-9-]{0,40}[a-z0-9]$")


def consul_token(args, description, selector):
    """Create one ACL token with the consul CLI; return its secret and accessor IDs."""
    cmd = ["consul", "acl", "token", "create", "-format=json", "-description", description] + selector
    try:
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=30).stdout
    except subprocess.CalledProcessError as e:
        sys.exit(f"mint-node-secrets: {' '.join(cmd)}: {e.stderr.strip() or e}")
    except (OSError, subprocess.TimeoutExpired) as e:
        sys.exit(f"mint-node-secrets: {' '.join(cmd)}: {e}")
    tok = json.loads(out)
    return tok["SecretID"], tok["AccessorID"]


def mint(args, name):
    agent, agent_acc = consul_token(args, f"agent {name}", ["-node-identity", f"{name}:{args.datacenter}"])
    sidecar, sidecar_acc = consul_token(args, f"sidecar {name}", ["-policy-name", args.sidecar_policy])
    return {"agent_token": agent, "sidecar_token": sidecar, "turn_secret": secrets.token_hex(32)}, [agent_acc, sidecar_acc]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--prefix", default="meet", help="node_name_prefix of the module")
    p.add_argument("--count", type=int, required=True, help="node_count of the module")
    p.add_argument("--datacenter", default="dc1", help="the Consul datacenter (control.consul_datacenter)")
    p.add_argument("--sidecar-policy", default="ensemble-jitsi-sidecar", help="policy of the sidecar tokens")
    p.add_argument("--existing", help="earlier output to keep and extend")
    p.add_argument("--rotate", action="append", default=[], metavar="NAME", help="mint new secrets for this node")
    p.add_argument("--forget", action="append", default=[], metavar="NAME", help="drop this node's entry")
    args = p.parse_args()
    if not NAME.match(args.prefix) or not 1 <= args.count <= 999:
        sys.exit("mint-node-secrets: --prefix must be a node_name_prefix and --count 1-999")

    current = {}
    if args.existing:
        try:
            with open(args.existing) as f:
                current = json.load(f)["node_secrets"]
        except FileNotFoundError:
            current = {}
        except (OSError, ValueError, KeyError) as e:
            sys.exit(f"mint-node-secrets: {args.existing}: {e}")
    for name in args.forget:
        current.pop(name, None)
    names = [f"{args.prefix}-{i:04d}" for i in range(1, args.count + 1)]
    for name in args.rotate:
        if name not in current:
            sys.exit(f"mint-node-secrets: --rotate {name}: no such node in --existing")
    old = []
    for name in names + [n for n in args.rotate if n not in names]:
        if name in current and name not in args.rotate:
            continue
        if name in args.rotate:
            old.append(name)
        current[name], _ = mint(args, name)
    for name in old:
        print(f"mint-node-secrets: rotated {name}; after it has rebooted with the new user-data, delete its old "
              f"tokens (consul acl token list | grep -B3 '{name}')", file=sys.stderr)
    json.dump({"node_secrets": dict(sorted(current.items()))}, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
