"""`python -m hpybridge gen SPEC [-o DIR]`: write the C headers for an API spec (see docs/api-spec.md).
`python -m hpybridge inspect PROVIDER [CONSUMER ...]`: import the modules, then show the APIs the
provider exports, their slots and signatures, and which consumers imported them in which mode."""

import argparse
import importlib
import json
import sys


def inspect_main(argv):
    parser = argparse.ArgumentParser(prog="python -m hpybridge inspect", description=inspect_main.__doc__)
    parser.add_argument("provider", help="module that exports APIs")
    parser.add_argument("consumers", nargs="*", help="modules to import after it (they show as consumers)")
    parser.add_argument("--json", action="store_true", help="print the raw records as JSON")
    args = parser.parse_args(argv)
    import hpybridge

    for name in [args.provider] + args.consumers:
        try:
            importlib.import_module(name)
        except ImportError as e:
            print("hpybridge inspect: cannot import %s: %s: %s" % (name, type(e).__name__, e), file=sys.stderr)
            return 1
    records = hpybridge.apis(args.provider)
    if args.json:
        print(json.dumps(records, indent=2))
        return 0
    if not records:
        print("module %s exports no hpybridge API" % args.provider)
        return 0
    for api in records:
        print("%s %s  provided by %s in %s  (%s)" % (api["name"], api["version"], api["module"], api["family"],
                                                    api["file"]))
        width = max(len(s["name"]) for s in api["slots"]) if api["slots"] else 0
        for i, slot in enumerate(api["slots"]):
            print("  %3d  %-*s  %s" % (i, width, slot["name"], slot["signature"]))
        if not api["consumers"]:
            print("  no consumers have imported it")
        for c in api["consumers"]:
            print("  consumer %s in %s: needs %s, uses %d slots, imported %d time(s)  (%s)"
                  % (c["module"], c["family"], c["version"], c["slots"], c["imports"], c["file"]))
        print("  CPython-API stubs (_%s_CAPI):" % api["name"])
        for i, slot in enumerate(api["capi_slots"]):
            print("  %3d  %-*s  %s" % (i, width, slot["name"],
                                       slot["signature"] if slot["missing"] is None else "none: " + slot["missing"]))
        for c in api["capi_consumers"]:
            print("  C-API consumer %s: needs %s, uses %d slots, imported %d time(s)  (%s)"
                  % (c["module"], c["version"], c["slots"], c["imports"], c["file"]))
    return 0


def gen_main(argv):
    from . import gen

    return gen.main(argv)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    # Each command imports what it needs when it runs, so one's requirements never stop another.
    commands = {"gen": gen_main, "inspect": inspect_main}
    if not argv or argv[0] not in commands:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
