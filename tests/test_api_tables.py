"""API tables (issue 3): a provider exports a C API through a capsule, consumers import it with
version and signature checks, and every failure is a specific exception naming both sides."""

import os

import pytest

import hpybridge
from conftest import CONTEXT_NAMES, EXT, INTERPRETER, build, build_with_headers, generate_headers, run_modules

MODES = hpybridge.MODES
with open(os.path.join(EXT, "calc.toml")) as f:
    CALC = f.read()


def spec(version="1.2", drop=(), module="calcprov", change=None):
    """calc.toml with another version, without the named functions, or with one text change."""
    text = CALC.replace('version = "1.2"', 'version = "%s"' % version)
    text = text.replace('module = "calcprov"', 'module = "%s"' % module)
    if version.split(".")[0] != "1":
        text = text.replace('since = "1.', 'since = "%s.' % version.split(".")[0])
    blocks = text.split("[[functions]]")
    keep = [blocks[0]] + [b for b in blocks[1:] if not any('name = "%s"' % d in b for d in drop)]
    text = "[[functions]]".join(keep)
    if change:
        assert change[0] in text, change[0]
        text = text.replace(*change)
    return text


def provider(text=None):
    return build_with_headers("calcprov", "calcprov.c", generate_headers(text or CALC), libraries=["m"])


def consumer(text=None, minor_needed=None):
    macros = [("CALC_API_MINOR_NEEDED", str(minor_needed))] if minor_needed is not None else []
    return build_with_headers("calccons", "calccons.c", generate_headers(text or CALC), macros)


def connect(prov_mode, cons_mode, prov=None, cons=None, body="result = outcome(calccons.connect)"):
    return run_modules([("calcprov", prov or provider(), prov_mode), ("calccons", cons or consumer(), cons_mode)], body)


# --- calls through the table, same mode on both sides -----------------------------------------

CALLS = """
calccons.connect()
checks = {
    "add": calccons.add(40, 2),
    "add_str": calccons.add("ab", "cd"),
    "hypot": calccons.hypot(3.0, 4.0),
    "repeat": calccons.repeat([1, 2], 3),
    "mix": calccons.mix(1, 2.0, 3, 4.0, 5, 6.0, 7, 8.0, 9, 10.0),
    "fill": calccons.fill(4, 1.5),
    "fail": outcome(calccons.fail, "raised by the provider"),
    "pick": [calccons.pick("a", "b", "c", i) for i in range(3)],
    "provider_context": calccons.provider_context(),
    "consumer_context": calccons.context_name(),
}
def many():
    for i in range(2000):
        assert calccons.add(i, 1) == i + 1
        assert calccons.pick(i, None, None, 0) == i
        assert outcome(calccons.fail, "x")[0] == "ValueError"
if "debug" in (%(modes)r):
    from hpy.debug import LeakDetector
    with LeakDetector():
        many()
else:
    many()
result = checks
"""


def check_calls(r, prov_mode, cons_mode):
    """What CALLS must return: right results, and each side seeing only its own context."""
    assert r["add"] == 42 and r["add_str"] == "abcd"
    assert r["hypot"] == 5.0
    assert r["repeat"] == [1, 2] * 3
    assert r["mix"] == 1 + 2 * 2.0 + 3 * 3 + 4 * 4.0 + 5 * 5 + 6 * 6.0 + 7 * 7 + 8 * 8.0 + 9 * 9 + 10 * 10.0
    assert r["fill"] == [0.0, 1.5, 3.0, 4.5]
    assert r["fail"] == ["ValueError", "raised by the provider"]
    assert r["pick"] == ["a", "b", "c"]
    assert r["provider_context"] == CONTEXT_NAMES[INTERPRETER][prov_mode]
    assert r["consumer_context"] == CONTEXT_NAMES[INTERPRETER][cons_mode]


@pytest.mark.parametrize("mode", MODES)
def test_same_mode_calls(mode):
    # Same family: the table holds the provider's functions; the consumer's context is valid for them.
    check_calls(connect(mode, mode, body=CALLS % {"modes": (mode,)}), mode, mode)


def test_introspection_names_provider_and_consumers():
    r = connect("universal", "universal", body="""
calccons.connect(); calccons.connect()
result = hpybridge.apis("calcprov")
""")
    (api,) = r
    assert api["name"] == "calc" and api["version"] == "1.2" and api["module"] == "calcprov"
    assert api["mode"] == "universal" and api["file"].endswith("calcprov.hpy0.so")
    assert [s["name"] for s in api["slots"]] == ["add", "hypot", "repeat", "mix", "fill", "fail", "pick",
                                               "context_name"]
    assert api["slots"][4]["signature"] == "long (HPyContext *, double *, long, double)"
    (c,) = api["consumers"]
    assert c["module"] == "calccons" and c["mode"] == "universal" and c["imports"] == 2
    assert c["version"] == "1.2" and c["slots"] == 8


def test_inspect_command():
    out = connect("debug", "debug", body="""
import io, contextlib
from hpybridge.__main__ import main
calccons.connect()
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    main(["inspect", "calcprov"])
result = buf.getvalue()
""")
    assert "calc 1.2  provided by calcprov in debug/%s" % INTERPRETER in out
    assert "  4  fill          long (HPyContext *, double *, long, double)" in out
    assert "consumer calccons in debug/%s: needs 1.2, uses 8 slots, imported 1 time(s)" % INTERPRETER in out


# --- versions ---------------------------------------------------------------------------------

def test_older_consumer_with_newer_provider():
    r = connect("universal", "universal", cons=consumer(minor_needed=0), body="""
calccons.connect()
result = [calccons.add(1, 2), calccons.hypot(6.0, 8.0), hpybridge.apis("calcprov")[0]["consumers"][0]]
""")
    assert r[:2] == [3, 10.0]
    assert r[2]["version"] == "1.0" and r[2]["slots"] == 3


def test_consumer_needs_newer_minor():
    r = connect("universal", "universal", prov=provider(spec("1.1", drop=("fail", "pick", "context_name"))))
    assert r == ["APIVersionError", "calc API: consumer needs version 1.2, provider module 'calcprov' has 1.1"]


def test_other_major_version():
    r = connect("universal", "universal", prov=provider(spec("2.2")))
    assert r == ["APIVersionError", "calc API: consumer needs version 1.2, provider module 'calcprov' has 2.2 "
                                    "(major versions differ: incompatible)"]


def test_missing_slot():
    # A provider that claims 1.2 but lacks the last slot 1.2 added.
    r = connect("universal", "universal", prov=provider(spec("1.2", drop=("context_name",))))
    assert r == ["APISlotError", "calc API: consumer uses 8 slots, provider module 'calcprov' 1.2 has 7"]


def test_wrong_signature():
    cons = consumer(spec(change=("double (HPyContext *ctx, double x, double y)", "float (HPyContext *, float, float)")))
    r = connect("universal", "universal", cons=cons)
    assert r == ["APISlotError", "calc API: slot 1 'hypot': consumer expects \"float (HPyContext *, float, float)\", "
                                 "provider module 'calcprov' 1.2 has \"double (HPyContext *, double, double)\""]


def test_renamed_slot():
    prov = provider(spec(change=('name = "hypot"', 'name = "norm2"')))
    r = connect("universal", "universal", prov=prov)
    assert r == ["APISlotError",
                 "calc API: slot 1: consumer expects 'hypot', provider module 'calcprov' 1.2 has 'norm2'"]


def test_missing_provider_module():
    cons = consumer(spec(module="no_such_provider"))
    r = run_modules([("calccons", cons, "universal")], "result = outcome(calccons.connect)")
    assert r == ["ModuleNotFoundError",
                 "calc API: expected provider module 'no_such_provider', found no module of that name"]


def test_provider_without_the_attribute():
    probe = build("probe", "probe.c")
    r = run_modules([("probe", probe, "universal", "calcprov"), ("calccons", consumer(), "universal")],
                    "result = outcome(calccons.connect)")
    assert r[0] == "APICapsuleError"
    assert r[1] == ("calc API: expected module 'calcprov' to have attribute '_calc_API' (set by export_calc() in its "
                    "HPy_mod_exec slot), found none")


BAD = """
badprov.%s()
result = outcome(calccons.connect)
"""


@pytest.mark.parametrize("put, message", [
    ("put_int", "calc API: expected module 'calcprov' attribute '_calc_API' to be a capsule named "
                "'hpybridge.api.calc', found an object of type 'int'"),
    ("put_foreign_capsule", "calc API: expected module 'calcprov' attribute '_calc_API' to be a capsule named "
                            "'hpybridge.api.calc', found a capsule named 'otherlib.table'"),
    ("put_bad_magic", "calc API: module 'calcprov' holds a malformed table: not an hpybridge API table: expected "
                      "magic 0x42595048 (\"HPYB\"), found 0xdeadbeef"),
    ("put_bad_layout", "calc API: module 'calcprov' holds a malformed table: API table layout version 99, this "
                       "runtime reads layout version 1 (rebuild the extension against this hpybridge)"),
    ("put_unregistered", "calc API: module 'calcprov' holds a table for calc 1.0 that this hpybridge runtime did "
                         "not publish (was it exported through another copy of hpybridge?)"),
])
def test_bad_capsules(put, message):
    bad = build("badprov", "badprov.c")
    r = run_modules([("badprov", bad, "universal", "calcprov"), ("calccons", consumer(), "universal")], BAD % put)
    assert r == ["APICapsuleError", message]


@pytest.mark.parametrize("kind, message", [
    ("magic",
     "cannot export an API: not an hpybridge API table: expected magic 0x42595048 (\"HPYB\"), found 0xdeadbeef"),
    ("layout", "cannot export an API: API table layout version 99, this runtime reads layout version 1"),
    ("signature", "cannot export an API: API table slot 1 'hypot': malformed signature \"double (HPyContext *, "
                  "dobule, double)\": at column 23: expected a C type, found 'dobule'"),
    ("duplicate", "cannot export an API: API table: slots 0 and 1 are both named 'add'"),
    ("null", "cannot export an API: API table slot 0 'add': the provider's function pointer is NULL"),
])
def test_malformed_export(kind, message):
    bad = build("badprov", "badprov.c")
    r = run_modules([("badprov", bad, "debug")], "result = outcome(badprov.export_bad, %r)" % kind)
    assert r[0] == "APIRegistrationError"
    assert r[1].startswith(message)


def test_registering_twice():
    prov = provider()
    r = run_modules([("calcprov", prov, "universal")], """
import hpybridge
from hpybridge import devel
result = outcome(hpybridge.load_extension, "calcprov", devel.copy_for_mode(%r, "debug"), "debug")
""" % prov)
    assert r[0] == "APIRegistrationError"
    assert r[1].startswith("calc API 1.2 is already registered by module 'calcprov' (universal/%s, " % INTERPRETER)
    assert "; module 'calcprov' (debug/%s, " % INTERPRETER in r[1] and r[1].endswith("cannot register it again")


def test_failed_imports_leak_nothing():
    bad = build("badprov", "badprov.c")
    r = run_modules([("badprov", bad, "debug", "calcprov"), ("calccons", consumer(), "debug")], """
from hpy.debug import LeakDetector
with LeakDetector():
    for put in ("put_int", "put_foreign_capsule", "put_bad_magic", "put_unregistered"):
        getattr(badprov, put)()
        for _ in range(50):
            assert outcome(calccons.connect)[0] == "APICapsuleError"
result = "clean"
""")
    assert r == "clean"


def test_signature_canonical_forms():
    assert hpybridge.parse_signature("const double(HPyContext*ctx , HPy  v)") == "double (HPyContext *, HPy)"
    with pytest.raises(hpybridge.errors.SignatureSyntaxError, match=r"at column 9: expected a C type, found 'dobule'"):
        hpybridge.parse_signature("double (dobule)")


def test_failed_import_in_exec_exits_cleanly():
    """The geometry example's consumer without its provider: the exception reaches the top level
    and the process exits 1, not with a crash, under the allocator that makes a read of freed memory
    crash (HPy 0.9 frees a failed module's definition early: see hpybridge/failed_init.py;
    test_failure_paths.py has every failure path)."""
    import importlib.util
    import subprocess
    import sys

    from hpybridge import devel

    spec = importlib.util.spec_from_file_location(
        "geometry_build", os.path.join(os.path.dirname(EXT), os.pardir, "examples", "geometry", "build.py"))
    geometry_build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(geometry_build)
    shapes = devel.copy_for_mode(geometry_build.build_examples()["shapes"], "debug")
    code = "import hpybridge; hpybridge.load_extension('shapes', %r, mode='debug')" % shapes
    env = dict(os.environ, PYTHONMALLOC="debug", PYTHONDEVMODE="1")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert "ModuleNotFoundError: geometry API: expected provider module 'geometry', found no module of that name" \
        in proc.stderr
    assert proc.returncode == 1, proc.stderr
