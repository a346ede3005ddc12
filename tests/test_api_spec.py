"""API specs (docs/api-spec.md): `hpybridge.gen.load_spec` refuses a malformed spec with a
SpecError naming the file, the entry, what was expected and what was found; `python -m hpybridge
gen` exits with 2 and prints it."""

import subprocess
import sys

import pytest

from hpybridge import gen

GOOD = '''
[api]
name = "calc"
module = "calcprov"
version = "1.1"

[[functions]]
name = "add"
signature = "HPy (HPyContext *ctx, HPy a, HPy b)"

[[functions]]
name = "hypot"
signature = "double (HPyContext *, double, double)"
since = "1.1"
'''


def load(tmp_path, text):
    path = tmp_path / "spec.toml"
    path.write_text(text)
    return gen.load_spec(str(path))


def error(tmp_path, text):
    with pytest.raises(gen.SpecError) as e:
        load(tmp_path, text)
    return str(e.value).replace(str(tmp_path / "spec.toml"), "spec.toml")


def test_a_good_spec(tmp_path):
    spec = load(tmp_path, GOOD)
    assert (spec.name, spec.module, spec.version) == ("calc", "calcprov", "1.1")
    assert [(f.name, f.canonical, f.since) for f in spec.functions] == [
        ("add", "HPy (HPyContext *, HPy, HPy)", (1, 0)), ("hypot", "double (HPyContext *, double, double)", (1, 1))]


@pytest.mark.parametrize("change, message", [
    (('name = "hypot"', 'name = "add"'),
     "spec.toml: [[functions]] #2 'add': name: expected a name unique in the API, found 'add' again "
     "(it is function #1)"),
    (('name = "hypot"', 'name = "API"'),
     "spec.toml: [[functions]] #2 'API': name: 'API' would clash with the generated identifier calc_API; "
     "expected another name"),
    (('name = "hypot"', 'name = "double"'),
     "spec.toml: [[functions]] #2 'double': name: expected the function's name, found the C keyword 'double'"),
    (('double, double)"', 'dobule, double)"'),
     "spec.toml: [[functions]] #2 'hypot': signature: malformed signature"),
    (('since = "1.1"', 'since = "1.2"'),
     "spec.toml: [[functions]] #2 'hypot': since: expected a version <= the API's version 1.1, found \"1.2\""),
    (('since = "1.1"', 'since = "2.0"'),
     "spec.toml: [[functions]] #2 'hypot': since: expected a version of major 1 (the API is 1.1), found \"2.0\""),
    (('since = "1.1"', 'sinse = "1.1"'),
     "spec.toml: [[functions]] #2 'hypot': unknown key 'sinse'; expected keys: doc, name, nogil, signature, since"),
    (('version = "1.1"', 'version = 1.1'),
     "spec.toml: [api] 'calc': version: expected a quoted version string such as \"1.0\", found a float 1.1"),
    (('module = "calcprov"', 'module = "calc-prov"'),
     "spec.toml: [api] 'calc': module: expected an importable module name"),
    (('[api]', '[apii]'), "spec.toml: unknown top-level key 'apii'"),
])
def test_malformed_specs(tmp_path, change, message):
    assert change[0] in GOOD
    assert error(tmp_path, GOOD.replace(*change)).startswith(message)


def test_functions_listed_oldest_first(tmp_path):
    text = GOOD + '\n[[functions]]\nname = "late"\nsignature = "double (double)"\nsince = "1.0"\n'
    assert error(tmp_path, text).startswith(
        "spec.toml: [[functions]] #3 'late': since: expected \"1.1\" or later, found \"1.0\": slots are append-only")


def test_the_command_exits_2_with_the_message(tmp_path):
    path = tmp_path / "spec.toml"
    path.write_text(GOOD.replace('name = "hypot"', 'name = "add"'))
    r = subprocess.run([sys.executable, "-m", "hpybridge", "gen", str(path), "-o", str(tmp_path)],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert "hpybridge gen: error: " in r.stderr and "expected a name unique in the API" in r.stderr
