"""What a provider says about an entry beyond its function (issue 9; runtime API 1.4,
docs/cdict.md §2-§3): a doc string (`CFunction.doc`) and flags (`FLAG_NOGIL`: may be called without
the GIL), from the spec's `doc` and `nogil` keys through the generated `HPyBridge_ExportEx` and
`HPyBridge_CDictSetEx`, in every pairing of provider and runtime modes, on CPython and PyPy.

The GIL test is deterministic: `wait_flag(state, seconds)` (tests/ext/cdictprov.c) sets state[0]
when it starts and waits for state[1]; the main thread waits for state[0] and then sets state[1],
which it can only do while the calling thread does not hold the GIL."""

import itertools
import os

import pytest

import hpybridge
from conftest import EXT, build, build_with_headers, generate_headers, read_text, run_modules

MODES = hpybridge.MODES
NOGIL = hpybridge.cdict.FLAG_NOGIL
PAIRS = list(itertools.product(MODES, MODES))


@pytest.fixture(scope="module")
def cdictprov():
    return build_with_headers("cdictprov", "cdictprov.c", generate_headers(read_text(os.path.join(EXT, "cdict.toml")),
                                                                           "cdt"), libraries=["m"])


@pytest.fixture(scope="module")
def duckpa():
    headers = generate_headers(read_text(os.path.join(EXT, "duckpa.toml")), "duckpa")
    return build_with_headers("duckpa", "duckpa.c", headers, libraries=["m"])


@pytest.fixture(scope="module")
def infoprov():
    return build("infoprov", "infoprov.c")


INFO = r"""
import array, threading, time
from hpybridge.cdict import FLAG_NOGIL
cd = cdictprov.__cdict__
r = {"runtime": hpybridge.abi_info()["mode"]}
r["docs"] = [cd[k].doc.split("\n\n")[0] for k in ("wait_flag", "twice", "cosine", "echo_i8")]
r["flags"] = [cd[k].implementations[0].flags for k in ("wait_flag", "wait_flag_gil", "twice", "cosine")]

def waits(entry, seconds):
    state = array.array("i", [0, 0])
    out = []
    t = threading.Thread(target=lambda: out.append(cd[entry](state, seconds)))
    t.start()
    while not state[0] and t.is_alive():  # runs only while the other thread lets the GIL go
        time.sleep(0.001)
    state[1] = 1
    t.join()
    return out[0]

r["waits"] = [waits("wait_flag", 20.0), waits("wait_flag_gil", 0.2)]
r["twice"] = cd["twice"](21.0)
result = r
"""


@pytest.mark.parametrize("provider,runtime", PAIRS)
def test_spec_doc_and_nogil(cdictprov, provider, runtime):
    """The spec's docs lead each entry's `doc`; `nogil` entries carry FLAG_NOGIL, and Python calls of
    one that takes a buffer release the GIL (another thread sets the flag it waits for), while the
    same function without `nogil` keeps it (its wait times out: 0)."""
    r = run_modules([("cdictprov", cdictprov, provider)], INFO, {"HPY": "hpybridge:%s" % runtime})
    assert r["runtime"] == runtime
    assert r["docs"] == ["sets state[0], then 1 once state[1] is non-zero, 0 if it stays zero for `seconds`: "
                         "may be called without the GIL",
                         "2 * x: nogil, but of scalars only, so Python calls keep the GIL",
                         "libm's cos: a plain C function",
                         "cdictprov.echo_i8: function 'echo_i8' of the cdt API, int8_t (int8_t)"]
    assert r["flags"] == [NOGIL, 0, NOGIL, 0]
    assert r["waits"] == [1, 0]
    assert r["twice"] == 42.0


TYPES = r"""
from hpybridge.cdict import FLAG_NOGIL
P = duckpa.make(3.0, 4.0)
cd = type(P).__cdict__
result = [cd["norm"].doc, cd["scaled"].doc, [cd[k].implementations[0].flags for k in ("norm", "scaled", "tag")],
          cd["tag"](41), duckpa.__cdict__["point"].doc]
"""


@pytest.mark.parametrize("mode", MODES)
def test_type_entries_from_spec(duckpa, mode):
    """`[[types.entries]]` docs and `nogil` reach the type's `__cdict__` through the generated
    `register_<type>_cdict` (HPyBridge_CDictSetEx)."""
    r = run_modules([("duckpa", duckpa, mode)], TYPES)
    assert r[0] == "its distance from the origin\n\nPoint.norm: double (HPyContext *, HPy)"
    assert r[1] == "Point.scaled: HPy (HPyContext *, HPy, double)"
    assert r[2] == [0, 0, NOGIL]
    assert r[3] == 1041
    assert r[4] == ("a new Point\n\nduckpa.point: function 'point' of the duckpa API, HPy (HPyContext *, double, "
                    "double); PyObject * (double, double)")


REFUSALS = r"""
class Box:
    pass

b = Box()
r = {}
r["ok"] = [outcome(infoprov.set_ex, b, "half", "double (double)", 2, "halves"), b.__cdict__["half"].doc,
           b.__cdict__["half"].implementations[0].flags, b.__cdict__["half"](3.0),
           outcome(infoprov.set_ex, b, "n", "double (HPyContext *, HPy)", 0, None), b.__cdict__["n"].doc]
r["set"] = [outcome(infoprov.set_ex, b, "n", "double (HPyContext *, HPy)", 2, None),
            outcome(infoprov.set_ex, b, "h", "double (double)", 8, None),
            outcome(infoprov.set_ex, b, "h", "double (double)", 3, None), sorted(b.__cdict__)]
r["export"] = [outcome(infoprov.export_ex, "infoapi", 0, 2, "x"), outcome(infoprov.export_ex, "infoapi", 16, 0, "x"),
               hasattr(infoprov, "__cdict__"), outcome(infoprov.export_ex, "infoapi", 2, 0, "halves, exported"),
               infoprov.__cdict__["half"].doc, infoprov.__cdict__["half"].implementations[0].flags,
               infoprov.__cdict__["norm"].implementations[0].flags]
result = r
"""


@pytest.mark.parametrize("mode", MODES)
def test_refused_flags(infoprov, mode):
    """The runtime checks what a provider says: NOGIL only for signatures without context, handles
    or objects, no unknown flags; a refused export registers nothing (the same API exports
    afterwards)."""
    r = run_modules([("infoprov", infoprov, mode)], REFUSALS)
    assert r["ok"] == [["ok", None], "halves\n\nBox.half: double (double)", NOGIL, 1.5, ["ok", None],
                       "Box.n: double (HPyContext *, HPy)"]
    need = ("nogil (HPYBRIDGE_ENTRY_NOGIL) needs a signature without HPyContext *, HPy or PyObject * (they need "
            "the GIL), found HPyContext *")
    assert r["set"] == [
        ["ValueError", "HPyBridge_CDictSet(): entry 'n' \"double (HPyContext *, HPy)\": " + need],
        ["ValueError", "HPyBridge_CDictSet(): entry 'h' \"double (double)\": expected flags 0 or "
                       "HPYBRIDGE_ENTRY_NOGIL (2), found 0x8"],
        ["ValueError", "HPyBridge_CDictSet(): entry 'h' \"double (double)\": expected flags 0 or "
                       "HPYBRIDGE_ENTRY_NOGIL (2), found 0x3"],
        ["half", "n"]]
    assert r["export"] == [
        ["ValueError", "cannot export the infoapi API: slot 'norm' \"double (HPyContext *, HPy)\": " + need],
        ["ValueError", "cannot export the infoapi API: slot 'half' \"double (double)\": expected flags 0 or "
                       "HPYBRIDGE_ENTRY_NOGIL (2), found 0x10"],
        False, ["ok", None],
        "halves, exported\n\ninfoprov.half: function 'half' of the infoapi API, double (double)", NOGIL, 0]


def test_spec_nogil_errors(tmp_path):
    """`python -m hpybridge gen` refuses `nogil` where the runtime would."""
    from hpybridge import gen

    def spec_error(text):
        path = tmp_path / "bad.toml"
        path.write_text('[api]\nname = "a"\nmodule = "m"\nversion = "1.0"\n' + text)
        with pytest.raises(gen.SpecError) as e:
            gen.load_spec(str(path))
        return str(e.value)

    f = '[[functions]]\nname = "f"\nsignature = "%s"\nnogil = %s\n'
    assert spec_error(f % ("double (double)", "1")) == (
        "%s: [[functions]] #1 'f': nogil: expected true or false, found an integer 1" % (tmp_path / "bad.toml"))
    assert spec_error(f % ("double (HPyContext *ctx, HPy o)", "true")) == (
        '%s: [[functions]] #1 \'f\': nogil: expected a signature without HPyContext *, HPy or PyObject * (they '
        'need the GIL), found HPyContext * in "double (HPyContext *, HPy)"' % (tmp_path / "bad.toml"))
    entry = ('[[functions]]\nname = "f"\nsignature = "void (void)"\n[[types]]\nname = "P"\n'
             '[[types.entries]]\nname = "n"\nsignature = "void (HPy *items)"\nnogil = true\n')
    assert spec_error(entry).endswith('found HPy * in "void (HPy *)"')
