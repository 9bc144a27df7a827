#!/usr/bin/env python3
"""The protocol checks of scripts/test-packages.sh, against servers set up
as an operator would: the module enabled by name and found where the
installed packages (or `ejabberdctl module_install`) put it, nothing on the
command line or in the config pointing into the build tree.

  packages_e2e.py prosody            the apt-installed prosody-mod-xmpp-sic
  packages_e2e.py ejabberd           the apt-installed ejabberd-mod-xmpp-sic
  packages_e2e.py contrib DIR        module_install from DIR/sources/mod_xmpp_sic

Each check prints "ok NAME" or "FAIL NAME: why"; the exit status is the
number of failures."""

import asyncio
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from testkit.answers import summarize  # noqa: E402
from testkit.ejabberd import EjabberdNode  # noqa: E402
from testkit.prosody import PrivateProsody  # noqa: E402
from testkit.xmpp import RawClient  # noqa: E402

SIC1 = "<iq type='get' id='s1'><address xmlns='urn:xmpp:sic:1'/></iq>"
SIC0 = "<iq type='get' id='s0'><ip xmlns='urn:xmpp:sic:0'/></iq>"
USERS = [("alice", "secret")]

failures = 0


def report(name, ok, why=""):
    global failures
    if ok:
        print(f"ok {name}")
    else:
        failures += 1
        print(f"FAIL {name}: {why}")


async def ask(host, port, request):
    """The Answer to one request on a fresh login, and the client's own
    (ip, port), which the answer must carry."""
    client = await RawClient.login(host, port, "alice", "secret", timeout=20.0)
    try:
        answer = summarize(await client.request_raw(request))
        return answer, client.local_addr
    finally:
        await client.close()


async def check_answers(who, port, sic0=True):
    answer, (ip, cport) = await ask("127.0.0.1", port, SIC1)
    good = (answer.type == "result" and answer.ns == "urn:xmpp:sic:1" and answer.ip == ip
            and answer.port == str(cport))
    report(f"{who} sic:1 answered with the client's {ip}:{cport}", good, repr(answer))
    if sic0:
        answer, (ip, _) = await ask("127.0.0.1", port, SIC0)
        good = answer.type == "result" and answer.ns == "urn:xmpp:sic:0" and answer.ip == ip
        report(f"{who} sic:0 <ip/> answered with the client's {ip}", good, repr(answer))


def under(node, module, prefix):
    where = node.rpc(f"code:which({module})").strip('"')
    report(f"ejabberd loads {module} from {prefix}", where.startswith(prefix), where)


def prosody():
    # No plugin_paths and LUA_CPATH left at Lua's default (';;'): Prosody
    # finds the module in its own directory, the module finds xmpp_sic
    # where lua5.4 looks.
    with PrivateProsody(modules=["xmpp_sic"], users=USERS) as server:
        asyncio.run(check_answers("prosody", server.port))
        problems = server.log_problems()
        report("prosody log has no errors", not problems, problems)


def ejabberd():
    # Only the system's ejabberd ebin is on the code path (as ejabberdctl
    # has it); xmpp_sic comes from Erlang's lib dir.
    with EjabberdNode(modules_yaml="  mod_disco: {}\n  mod_xmpp_sic: {}\n", users=USERS) as node:
        asyncio.run(check_answers("ejabberd", node.port_v4))
        under(node, "mod_xmpp_sic", node.lib_dir)
        under(node, "xmpp_sic", "/usr/lib/erlang/lib/xmpp_sic-")
        problems = node.log_problems()
        report("ejabberd log has no errors", not problems, problems)


def contrib(modules_dir):
    modules_dir = os.path.abspath(modules_dir)
    with EjabberdNode(modules_yaml="  mod_disco: {}\n", contrib_dir=modules_dir, users=USERS) as node:
        before, _ = asyncio.run(ask("127.0.0.1", node.port_v4, SIC1))
        report("before module_install nothing answers sic:1", before.type == "error", repr(before))
        available = node.rpc("ext_mod:available(<<\"mod_xmpp_sic\">>)")
        report("modules_available lists mod_xmpp_sic", available == "true", available)
        # What `ejabberdctl module_install mod_xmpp_sic` runs on the node.
        # Its messages come first, the status code (0: success) last.
        output = node.rpc('ejabberd_ctl:process(["module_install", "mod_xmpp_sic"])', timeout=180)
        status = output.splitlines()[-1] if output else ""
        report("module_install mod_xmpp_sic returns 0", status == "0", output + "\n" + node.output()[-2000:])
        asyncio.run(check_answers("contrib", node.port_v4))
        installed = os.path.join(modules_dir, "mod_xmpp_sic")
        under(node, "mod_xmpp_sic", installed)
        under(node, "xmpp_sic", installed)


def main():
    what = sys.argv[1] if len(sys.argv) > 1 else ""
    if what == "prosody":
        prosody()
    elif what == "ejabberd":
        ejabberd()
    elif what == "contrib" and len(sys.argv) == 3:
        contrib(sys.argv[2])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return min(failures, 100)


if __name__ == "__main__":
    sys.exit(main())
