"""`python -m hpybridge gen SPEC [-o OUTDIR]`: C headers for an API from its spec (docs/api-spec.md).

A spec is a TOML file describing one API: its name, the module that provides it, its version and
its functions (slots), in slot order. From it this writes:

- `<api>_api.h` for consumers: the `<api>_API` struct of function pointers and `import_<api>(ctx)`;
- `<api>_export.h` for the provider: the prototypes of `<api>_<name>` and `export_<api>(ctx, module)`;
- `<api>_capi.h` for C-API consumers (Python.h, no HPy): the `<api>_CAPI` struct of the functions in
  their CPython-API form (docs/fallback-stubs.md) and `import_<api>_capi()`;
- `<api>_capi.pxd` for Cython consumers: the same, to `cimport`.

A spec with a `[foreign]` table instead of `[api]` declares C-API functions that a foreign module
publishes without hpybridge (NumPy's `_ARRAY_API`, a Cython module's `__pyx_capi__`); from it this
writes `<name>_foreign.h`: the `<name>_Foreign` struct of the functions in their HPy form and
`import_<name>(ctx)` (docs/foreign-capsules.md).

With `--rust` it writes `<api>_capi.rs` instead, the same table for Rust (PyO3) consumers
(`hpybridge.gen_rust`, docs/rust-consumers.md).

Signatures are canonicalised by the runtime's parser (`hpybridge.parse_signature`), the one the
runtime checks imports with: the tables in the headers carry canonical signatures, exactly what
import compares. C declarations (struct members, prototypes) keep the spec's own spelling, so that
`const` and parameter names survive (both are dropped from the canonical form).

From Python: `generate(load_spec(path), out_dir)`. Errors in a spec raise `SpecError` (a ValueError)
naming the file, the function and what was expected and found.
"""

from __future__ import annotations

import argparse
import keyword
import os
import re
import sys
import tempfile
from dataclasses import dataclass, field

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.9 and 3.10: the same parser, from PyPI (a dependency there)
    import tomli as tomllib

__all__ = ["ForeignFunction", "ForeignSpec", "Function", "Spec", "SpecError", "generate", "generate_rust", "load_spec",
           "main", "render"]

MAX_SLOTS = 4096  # the runtime refuses larger tables (capsules/src/wire.rs)
_UINT32_MAX = 2**32 - 1

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_VERSION = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\Z")
# C11 and C23 keywords (C23 makes bool, true, false, ... keywords), plus the macros that
# <stdbool.h>, <stdalign.h> and <stdnoreturn.h> define in older standards.
_C_KEYWORDS = frozenset("""
    auto break case char const continue default do double else enum extern float for goto if inline
    int long register restrict return short signed sizeof static struct switch typedef union unsigned
    void volatile while _Alignas _Alignof _Atomic _Bool _Complex _Generic _Imaginary _Noreturn
    _Static_assert _Thread_local alignas alignof bool constexpr false nullptr static_assert
    thread_local true typeof typeof_unqual _BitInt _Decimal32 _Decimal64 _Decimal128 noreturn
""".split())

_API_KEYS = {"name", "module", "version", "doc"}
_FUNCTION_KEYS = {"name", "signature", "since", "doc", "nogil"}
_TYPE_KEYS = {"name", "doc", "entries"}
_ENTRY_KEYS = {"name", "signature", "doc", "nogil"}
_FOREIGN_KEYS = {"name", "module", "capsule", "capsule_name", "size", "pyx_capi", "doc"}
_FOREIGN_FUNCTION_KEYS = {"name", "signature", "index", "key", "doc"}


class SpecError(ValueError):
    """An API spec is malformed; the message names the file, the entry and what is wrong."""


@dataclass(frozen=True)
class Function:
    name: str
    signature: str  # as written in the spec
    canonical: str  # as the runtime's parser spells it: what the tables carry and import compares
    since: tuple  # (major, minor)
    doc: str = ""
    # The C declaration parts, from the spec's own spelling (tidied) so that `const` and parameter
    # names survive: the canonical form drops both, and `const char *f(...)` is a different C type
    # from `char *f(...)`. E.g. ret "const char *", args "(HPyContext *ctx, double x)".
    ret: str = ""
    args: str = ""
    # The CPython-API form of `canonical` (the runtime derives it), or None with the reason why
    # there is none: then C-API consumers get no function in that slot.
    fallback: str | None = None
    no_fallback: str = ""
    # `nogil = true`: may be called without the GIL (HPYBRIDGE_ENTRY_NOGIL, docs/cdict.md §2).
    nogil: bool = False


@dataclass(frozen=True)
class Entry:
    """One `__cdict__` entry of a type (docs/cdict.md §3): the provider implements it as
    `<api>_<type>_<name>`."""

    name: str
    signature: str  # as written in the spec
    qualified: str  # canonical, `const` pointer targets kept: what the registration table carries
    doc: str = ""
    ret: str = ""
    args: str = ""
    nogil: bool = False


@dataclass(frozen=True)
class TypeDecl:
    """A `[[types]]` table: a type whose `__cdict__` the generated `register_<name>_cdict` fills."""

    name: str
    doc: str = ""
    entries: tuple = field(default_factory=tuple)


@dataclass(frozen=True)
class Spec:
    path: str
    name: str
    module: str
    major: int
    minor: int
    doc: str = ""
    functions: tuple = field(default_factory=tuple)
    types: tuple = field(default_factory=tuple)

    @property
    def version(self):
        return "%d.%d" % (self.major, self.minor)

    def slot_count(self, minor):
        """How many slots a consumer of `<major>.<minor>` uses: those with since <= minor."""
        return sum(1 for f in self.functions if f.since[1] <= minor)


@dataclass(frozen=True)
class ForeignFunction:
    name: str
    signature: str  # the C-API signature as written in the spec
    canonical: str  # as the runtime's parser spells it: what import compares
    hpy_form: str  # what the consumer calls (the runtime derives it)
    index: int | None = None  # where a table capsule holds it
    key: str | None = None  # its key in __pyx_capi__
    doc: str = ""


@dataclass(frozen=True)
class ForeignSpec:
    """A `[foreign]` spec: C-API functions of a module that publishes them without hpybridge."""
    path: str
    name: str
    module: str
    attribute: str
    pyx_capi: bool  # a dict of capsules named by signature (Cython), else one capsule of a table
    capsule_name: str | None = None
    size: int = 0
    doc: str = ""
    functions: tuple = field(default_factory=tuple)


def _split(canonical):
    # The canonical form is `ret (args)`: the return type cannot contain " (" (the parser rejects
    # function pointers), so the first " (" ends it.
    ret, sep, rest = canonical.partition(" (")
    if not sep or not rest.endswith(")"):
        raise AssertionError("unexpected canonical signature %r" % canonical)
    return ret, "(" + rest


def _c_parts(signature, canonical, parse):
    """(ret, "(args)") for C declarations: the spec's spelling with its whitespace tidied, checked by
    parsing it back to the same canonical signature; the canonical parts if that cannot be done."""
    text = re.sub(r"\s*(\*+)\s*", r" \1", " ".join(signature.split()))  # "char*p" -> "char *p"
    if text.count("(") == 1 and text.count(")") == 1 and text.endswith(")"):
        ret, _, params = text[:-1].partition("(")
        params = ", ".join(p.strip() for p in params.split(",")) if params.strip() else "void"
        ret, args = ret.strip(), "(%s)" % params
        try:
            if parse("%s %s" % (ret, args)) == canonical:
                return ret, args
        except ValueError:
            pass
    return _split(canonical)


# ---------------------------------------------------------------------------------------------
# Loading and validating a spec


def _type_name(value):
    return {str: "a string", int: "an integer", float: "a float", bool: "a boolean", dict: "a table",
            list: "an array"}.get(type(value), type(value).__name__)


def _found(value):
    if isinstance(value, str):
        return "%r" % value
    if isinstance(value, (dict, list)):
        return _type_name(value)
    return "%s %r" % (_type_name(value), value)


def _check_keys(where, table, allowed, required):
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise SpecError("%s: unknown key%s %s; expected keys: %s" % (
            where, "s" if len(unknown) > 1 else "", ", ".join(repr(k) for k in unknown),
            ", ".join(sorted(allowed))))
    for key in required:
        if key not in table:
            raise SpecError("%s: missing key %r" % (where, key))


def _string(where, table, key, default=None):
    if key not in table:
        return default
    value = table[key]
    if not isinstance(value, str):
        raise SpecError("%s: %s: expected a string, found %s" % (where, key, _found(value)))
    return value


def _identifier(where, key, value, what):
    if not _IDENTIFIER.match(value):
        raise SpecError("%s: %s: expected %s (a C identifier: letters, digits, '_', not starting with a digit), "
                        "found %r" % (where, key, what, value))
    if value in _C_KEYWORDS:
        raise SpecError("%s: %s: expected %s, found the C keyword %r" % (where, key, what, value))
    return value


def _version_string(where, table, key, example, default=None):
    if key not in table:
        return default
    value = table[key]
    if not isinstance(value, str):
        raise SpecError('%s: %s: expected a quoted version string such as "%s", found %s'
                        % (where, key, example, _found(value)))
    return value


def _version(where, key, value, example):
    m = _VERSION.match(value)
    if not m:
        raise SpecError('%s: %s: expected a version "MAJOR.MINOR" such as "%s", found %r'
                        % (where, key, example, value))
    major, minor = int(m.group(1)), int(m.group(2))
    if major > _UINT32_MAX or minor > _UINT32_MAX:
        raise SpecError("%s: %s: expected numbers below 2**32, found %r" % (where, key, value))
    return major, minor


def _doc(where, table):
    doc = _string(where, table, "doc", "")
    bad = sorted({c for c in doc if ord(c) < 32 and c not in "\n\t"})
    if bad:
        raise SpecError("%s: doc: expected text, found control character(s) %s"
                        % (where, ", ".join("U+%04X" % ord(c) for c in bad)))
    return doc.strip()


def _nogil(where, table, canonical):
    """The entry's `nogil` key: False if absent; True only for a signature that needs no interpreter."""
    if "nogil" not in table:
        return False
    value = table["nogil"]
    if not isinstance(value, bool):
        raise SpecError("%s: nogil: expected true or false, found %s" % (where, _found(value)))
    if value:
        # The runtime's own rule (the one HPyBridge_ExportEx checks), before anything is built.
        import hpybridge

        found = hpybridge._runtime.needs_interpreter(canonical)
        if found is not None:
            raise SpecError('%s: nogil: expected a signature without HPyContext *, HPy or PyObject * (they need '
                            'the GIL), found %s in "%s"' % (where, found, canonical))
    return value


def _parse_signature():
    try:
        import hpybridge
        from hpybridge.errors import SignatureSyntaxError
    except ImportError as e:
        raise ImportError("hpybridge gen canonicalises signatures with the runtime, which did not load: %s" % e) from e
    return hpybridge.parse_signature, SignatureSyntaxError


def _fallback_form(canonical):
    """(the CPython-API form of `canonical`, "") or (None, why it has none), from the runtime."""
    import hpybridge

    try:
        return hpybridge.fallback_signature(canonical), ""
    except hpybridge.errors.NoFallbackError as e:
        return None, str(e)


def _entry_name(where, entry, keys, seen, i, kind, scope):
    """One [[...]] entry's keys and its name, a C identifier unique in `scope` (`seen` maps names
    to their index and gets this one, `i`); returns (where, with the name, name)."""
    if isinstance(entry.get("name"), str):
        where += " %r" % entry["name"]
    _check_keys(where, entry, keys, ("name", "signature"))
    name = _identifier(where, "name", _string(where, entry, "name"), "the %s's name" % kind)
    if name in seen:
        raise SpecError("%s: name: expected a name unique in the %s, found %r again (it is %s #%d)"
                        % (where, scope, name, kind, seen[name] + 1))
    seen[name] = i
    return where, name


def _entry_signature(where, entry, parse, syntax_error):
    """(signature as written, canonical signature) of a [[...]] entry; SpecError if malformed."""
    signature = _string(where, entry, "signature")
    try:
        return signature, parse(signature)
    except syntax_error as e:
        raise SpecError("%s: signature: %s" % (where, e)) from None


def load_spec(path: str | os.PathLike[str]) -> Spec:
    """Reads and checks the spec at `path`; returns a `Spec` or raises `SpecError`."""
    label = str(path)
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise SpecError("%s: cannot read the spec: %s" % (label, e.strerror or e)) from None
    except tomllib.TOMLDecodeError as e:
        raise SpecError("%s: expected TOML, found a syntax error: %s" % (label, e)) from None
    except UnicodeDecodeError as e:
        raise SpecError("%s: expected UTF-8 text: %s" % (label, e)) from None

    if "foreign" in data:
        return _load_foreign(label, data)
    unknown = sorted(set(data) - {"api", "functions", "types"})
    if unknown:
        raise SpecError("%s: unknown top-level key%s %s; expected an [api] table, [[functions]] and [[types]] entries"
                        % (label, "s" if len(unknown) > 1 else "", ", ".join(repr(k) for k in unknown)))
    api = data.get("api")
    if api is None:
        raise SpecError("%s: missing the [api] table (name, module, version)" % label)
    if not isinstance(api, dict):
        raise SpecError("%s: api: expected a table [api], found %s" % (label, _found(api)))
    where = "%s: [api]" % label
    _check_keys(where, api, _API_KEYS, ("name", "module", "version"))
    name = _identifier(where, "name", _string(where, api, "name"), "the API's name")
    if name == "hpybridge":
        raise SpecError("%s: name: 'hpybridge' is the runtime's own API; expected another name" % where)
    where = "%s: [api] %r" % (label, name)
    module = _string(where, api, "module")
    parts = module.split(".")
    if not all(_IDENTIFIER.match(p) and not keyword.iskeyword(p) for p in parts):
        raise SpecError("%s: module: expected an importable module name (identifiers separated by dots, "
                        "such as 'geometry' or 'pkg.geometry'), found %r" % (where, module))
    major, minor = _version(where, "version", _version_string(where, api, "version", "1.0"), "1.0")
    api_doc = _doc(where, api)

    entries = data.get("functions")
    if entries is None:
        raise SpecError("%s: no [[functions]] entries: an API needs at least one function" % label)
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise SpecError("%s: functions: expected [[functions]] entries (an array of tables), found %s"
                        % (label, _found(entries)))
    if not entries:
        raise SpecError("%s: no [[functions]] entries: an API needs at least one function" % label)
    if len(entries) > MAX_SLOTS:
        raise SpecError("%s: expected at most %d functions, found %d" % (label, MAX_SLOTS, len(entries)))

    parse, SignatureSyntaxError = _parse_signature()
    functions, seen = [], {}
    previous = None  # (since, function name) of the entry before
    for i, entry in enumerate(entries):
        where, fname = _entry_name("%s: [[functions]] #%d" % (label, i + 1), entry, _FUNCTION_KEYS, seen, i,
                                   "function", "API")
        if fname in ("API", "export_table", "export_slots"):
            raise SpecError("%s: name: %r would clash with the generated identifier %s_%s; expected another name"
                            % (where, fname, name, fname))
        signature, canonical = _entry_signature(where, entry, parse, SignatureSyntaxError)
        since_text = _version_string(where, entry, "since", "%d.%d" % (major, minor), "%d.0" % major)
        since = _version(where, "since", since_text, "%d.0" % major)
        if since[0] != major:
            raise SpecError('%s: since: expected a version of major %d (the API is %d.%d), found "%s"'
                            % (where, major, major, minor, since_text))
        if since[1] > minor:
            raise SpecError('%s: since: expected a version <= the API\'s version %d.%d, found "%s" '
                            "(bump [api] version to add functions)" % (where, major, minor, since_text))
        if previous and since < previous[0]:
            raise SpecError('%s: since: expected "%d.%d" or later, found "%s": slots are append-only, so functions '
                            "are listed oldest first (the function before, %r, is since %d.%d)"
                            % (where, *previous[0], since_text, previous[1], *previous[0]))
        previous = (since, fname)
        ret, args = _c_parts(signature, canonical, parse)
        fallback, no_fallback = _fallback_form(canonical)
        functions.append(Function(fname, signature, canonical, since, _doc(where, entry), ret, args, fallback,
                                  no_fallback, _nogil(where, entry, canonical)))
    types = _load_types(label, name, data.get("types", []), parse, SignatureSyntaxError)
    return Spec(label, name, module, major, minor, api_doc, tuple(functions), types)


def _load_types(label, api, tables, parse, SignatureSyntaxError):
    """The `[[types]]` tables: each a type name, an optional doc, and `[[types.entries]]`."""
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise SpecError("%s: types: expected [[types]] entries (an array of tables), found %s"
                        % (label, _found(tables)))
    types, seen = [], {}
    for i, table in enumerate(tables):
        where = "%s: [[types]] #%d" % (label, i + 1)
        if isinstance(table.get("name"), str):
            where += " %r" % table["name"]
        _check_keys(where, table, _TYPE_KEYS, ("name", "entries"))
        tname = _identifier(where, "name", _string(where, table, "name"), "the type's name")
        if tname in seen:
            raise SpecError("%s: name: expected a type name unique in the spec, found %r again (it is type #%d)"
                            % (where, tname, seen[tname] + 1))
        seen[tname] = i
        entries = table["entries"]
        if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
            raise SpecError("%s: entries: expected [[types.entries]] (at least one table), found %s"
                            % (where, _found(entries)))
        made, names = [], {}
        for j, entry in enumerate(entries):
            ewhere, ename = _entry_name("%s entry #%d" % (where, j + 1), entry, _ENTRY_KEYS, names, j, "entry", "type")
            signature, canonical = _entry_signature(ewhere, entry, parse, SignatureSyntaxError)
            ret, args = _c_parts(signature, canonical, parse)
            made.append(Entry(ename, signature, parse(signature, keep_const=True), _doc(ewhere, entry), ret, args,
                              _nogil(ewhere, entry, canonical)))
        types.append(TypeDecl(tname, _doc(where, table), tuple(made)))
    return tuple(types)


def _module_name(where, module):
    parts = module.split(".")
    if not all(_IDENTIFIER.match(p) and not keyword.iskeyword(p) for p in parts):
        raise SpecError("%s: module: expected an importable module name (identifiers separated by dots, "
                        "such as 'numpy' or 'pkg.mod'), found %r" % (where, module))
    return module


def _integer(where, table, key, low, high):
    value = table[key]
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise SpecError("%s: %s: expected an integer from %d to %d, found %s" % (where, key, low, high, _found(value)))
    return value


def _load_foreign(label, data):
    unknown = sorted(set(data) - {"foreign", "functions"})
    if unknown:
        raise SpecError("%s: unknown top-level key%s %s; expected a [foreign] table and [[functions]] entries"
                        % (label, "s" if len(unknown) > 1 else "", ", ".join(repr(k) for k in unknown)))
    foreign = data["foreign"]
    if not isinstance(foreign, dict):
        raise SpecError("%s: foreign: expected a table [foreign], found %s" % (label, _found(foreign)))
    where = "%s: [foreign]" % label
    _check_keys(where, foreign, _FOREIGN_KEYS, ("name", "module"))
    name = _identifier(where, "name", _string(where, foreign, "name"), "the table's name")
    where = "%s: [foreign] %r" % (label, name)
    module = _module_name(where, _string(where, foreign, "module"))
    if ("capsule" in foreign) == ("pyx_capi" in foreign):
        raise SpecError("%s: expected exactly one of 'capsule' (the attribute holding a capsule of a table of "
                        "functions) and 'pyx_capi' (the attribute holding Cython's dict of capsules, usually "
                        "'__pyx_capi__')" % where)
    pyx_capi = "pyx_capi" in foreign
    attribute = _string(where, foreign, "pyx_capi" if pyx_capi else "capsule")
    if not _IDENTIFIER.match(attribute):
        raise SpecError("%s: expected an attribute name, found %r" % (where, attribute))
    capsule_name, size = None, 0
    if pyx_capi:
        for key in ("capsule_name", "size"):
            if key in foreign:
                raise SpecError("%s: %s: goes with 'capsule'; a __pyx_capi__ capsule is named by its signature"
                                % (where, key))
    else:
        capsule_name = _string(where, foreign, "capsule_name")
        if "size" not in foreign:
            raise SpecError("%s: missing key 'size' (how many entries the table has at least: the last index the "
                            "library documents for the version you target, plus one)" % where)
        size = _integer(where, foreign, "size", 1, _UINT32_MAX)
    doc = _doc(where, foreign)

    entries = data.get("functions")
    if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
        raise SpecError("%s: expected at least one [[functions]] entry" % label)
    if len(entries) > MAX_SLOTS:
        raise SpecError("%s: expected at most %d functions, found %d" % (label, MAX_SLOTS, len(entries)))
    import hpybridge

    parse, SignatureSyntaxError = _parse_signature()
    functions, seen = [], {}
    for i, entry in enumerate(entries):
        where, fname = _entry_name("%s: [[functions]] #%d" % (label, i + 1), entry, _FOREIGN_FUNCTION_KEYS, seen, i,
                                   "function", "table")
        signature, canonical = _entry_signature(where, entry, parse, SignatureSyntaxError)
        try:
            form = hpybridge.foreign_signature(canonical)
        except ValueError as e:
            raise SpecError("%s: signature: %s" % (where, e)) from None
        index = key = None
        if pyx_capi:
            if "index" in entry:
                raise SpecError("%s: index: goes with 'capsule'; a __pyx_capi__ function is found by its 'key'" % where)
            key = _string(where, entry, "key", fname)
        else:
            if "key" in entry:
                raise SpecError("%s: key: goes with 'pyx_capi'; a table's function is found by its 'index'" % where)
            if "index" not in entry:
                raise SpecError("%s: missing key 'index' (the function's entry in the table)" % where)
            index = _integer(where, entry, "index", 0, _UINT32_MAX)
            if index >= size:
                raise SpecError("%s: index: %d is out of range: [foreign] size is %d" % (where, index, size))
        functions.append(ForeignFunction(fname, signature, canonical, form, index, key, _doc(where, entry)))
    return ForeignSpec(label, name, module, attribute, pyx_capi, capsule_name, size, doc, tuple(functions))


# ---------------------------------------------------------------------------------------------
# Rendering


def _comment_text(text):
    # Nothing in a doc string may end or nest the comment, or form a trigraph.
    return text.replace("*/", "* /").replace("/*", "/ *").replace("??", "? ?")


def _one_line(text):
    return " ".join(_comment_text(text).split())


def _doc_block(text, indent=" * "):
    lines = [line.rstrip() for line in _comment_text(text).expandtabs(4).splitlines()]
    return [(indent + line).rstrip() for line in lines]


def _declarator(ret, inner, args):
    """`ret inner args` with C spacing: `HPy name(HPy)`, `PyObject *name(int)`."""
    return "%s%s%s%s" % (ret, "" if ret.endswith("*") else " ", inner, args)


_UNUSED = """\
#ifndef HPYBRIDGE_GEN_UNUSED
#  if defined(__GNUC__) || defined(__clang__)
#    define HPYBRIDGE_GEN_UNUSED __attribute__((unused))
#  else
#    define HPYBRIDGE_GEN_UNUSED
#  endif
#endif"""


def _header_comment(spec, filename, role):
    lines = ["/* %s: %s" % (filename, role),
             " *",
             " * Generated by `python -m hpybridge gen %s` from %s %s: do not edit."
             % (os.path.basename(spec.path), spec.name, spec.version),
             " * Provider module: %s." % spec.module]
    if spec.doc:
        lines += [" *"] + _doc_block(spec.doc)
    return lines  # the caller continues and closes the comment


def _slot_count_expr(spec, var):
    minors = sorted({f.since[1] for f in spec.functions})  # ascending
    if minors[0] == 0:
        expr, rest = str(spec.slot_count(0)), minors[1:]
    else:
        expr, rest = "0", minors
    for m in rest:  # the newest minor ends up outermost
        expr = "((%s) >= %d ? %d : %s)" % (var, m, spec.slot_count(m), expr)
    return expr


def _minor_needed(spec, minor_macro, filename):
    """`<API>_API_MINOR_NEEDED`: the minor version a consumer needs (default: the header's), checked
    against the header's own (`minor_macro`)."""
    up = spec.name.upper()
    return [
        "#ifndef %s_API_MINOR_NEEDED" % up,
        "#define %s_API_MINOR_NEEDED %s" % (up, minor_macro),
        "#endif",
        "#if %s_API_MINOR_NEEDED > %s" % (up, minor_macro),
        '#error "%s_API_MINOR_NEEDED is newer than this %s (%s); regenerate it from a newer spec"'
        % (up, filename, spec.version),
        "#endif",
    ]


def _prologue(spec, guard):
    """Include guard, hpybridge.h and the version macros: how both headers begin."""
    up = spec.name.upper()
    return [
        "#ifndef %s" % guard,
        "#define %s" % guard,
        "",
        "#include <hpybridge.h>",
        "",
        "#define %s_API_MAJOR %d" % (up, spec.major),
        "#define %s_API_MINOR %d" % (up, spec.minor),
        "/* Where module '%s' publishes the API: this module attribute holds a capsule of this name. */"
        % spec.module,
        '#define %s_API_ATTR HPYBRIDGE_API_ATTR("%s")' % (up, spec.name),
        '#define %s_API_CAPSULE HPYBRIDGE_API_CAPSULE("%s")' % (up, spec.name),
    ]


def render_api_header(spec):
    name, up = spec.name, spec.name.upper()
    guard = "%s_API_H" % up
    filename = "%s_api.h" % name
    out = _header_comment(spec, filename, "the %s API for consumers (modules that call it)." % name)
    out += [
        " *",
        " * In the consumer's HPy_mod_exec slot:",
        " *     static const %s_API *%s_api;" % (name, name),
        " *     ...",
        " *     %s_api = import_%s(ctx);" % (name, name),
        " *     if (%s_api == NULL)" % name,
        " *         return -1;",
        " * then call through the table: %s_api->%s(...)." % (name, spec.functions[0].name),
        " * Define %s_API_MINOR_NEEDED before including this header to accept older providers of major" % up,
        " * %d; then use only the members of that minor version or older. */" % spec.major,
    ]
    out += _prologue(spec, guard) + [
        "/* The version this consumer needs: providers %d.<this> and newer (of major %d) serve it. */"
        % (spec.major, spec.major),
        *_minor_needed(spec, "%s_API_MINOR" % up, filename),
        "",
        "/* The number of slots of version %d.<minor>: those added in that minor version or before. */"
        % spec.major,
        "#define %s_API_SLOT_COUNT(minor) %s" % (up, _slot_count_expr(spec, "minor")),
        "",
        _UNUSED,
        "",
        "/* One member per slot, in slot order (the layout of the table import_%s returns). */" % name,
        "typedef struct {",
    ]
    for f in spec.functions:
        comment = "since %d.%d" % f.since
        if f.doc:
            comment += ": " + _one_line(f.doc)
        out.append("    /* %s */" % comment)
        out.append("    %s;" % _declarator(f.ret, "(*%s)" % f.name, f.args))
    out += [
        "} %s_API;" % name,
        "",
        "/* What this consumer expects of each slot: its name and canonical signature. */",
        "static const HPyBridge_Slot _%s_API_slots[%d] HPYBRIDGE_GEN_UNUSED = {" % (name, len(spec.functions)),
    ]
    out += ['    {"%s", "%s", NULL},' % (f.name, f.canonical) for f in spec.functions]
    out += [
        "};",
        "",
        "/* Imports the %s API from module '%s' (importing the module if needed) and returns its table,"
        % (name, spec.module),
        "   or NULL with an exception set (hpybridge.errors.APIImportError or a subclass, or the error",
        "   importing the module raised). Keep the table in a static: the runtime keeps it for the life",
        "   of the process. Call its functions with the calling function's own ctx. */",
        "static inline const %s_API *import_%s(HPyContext *ctx)" % (name, name),
        "{",
        "    /* Static: the runtime identifies the consumer by this declaration's address. */",
        "    static const HPyBridge_APITable wanted = {",
        "        HPYBRIDGE_MAGIC, HPYBRIDGE_LAYOUT_VERSION, \"%s\", %s_API_MAJOR, %s_API_MINOR_NEEDED,"
        % (name, up, up),
        "        %s_API_SLOT_COUNT(%s_API_MINOR_NEEDED), 0, NULL, _%s_API_slots," % (up, up, name),
        "    };",
        "    return (const %s_API *)HPyBridge_Import(ctx, \"%s\", &wanted);" % (name, spec.module),
        "}",
        "",
        "#endif /* %s */" % guard,
        "",
    ]
    return "\n".join(out)


def render_export_header(spec):
    name, up = spec.name, spec.name.upper()
    guard = "%s_EXPORT_H" % up
    filename = "%s_export.h" % name
    out = _header_comment(spec, filename, "the %s API for its provider, module '%s'." % (name, spec.module))
    out += [
        " *",
        " * The provider defines the functions declared below (%s_<name>) and calls export_%s(ctx, module)"
        % (name, name),
        " * from its HPy_mod_exec slot. */",
    ]
    out += _prologue(spec, guard) + [
        "",
        _UNUSED,
        "",
        "/* The implementations, one per slot, in slot order. */",
    ]
    for f in spec.functions:
        comment = "since %d.%d" % f.since
        if f.doc:
            comment += ": " + _one_line(f.doc)
        out.append("/* %s */" % comment)
        out.append("%s;" % _declarator(f.ret, "%s_%s" % (name, f.name), f.args))
    out += [
        "",
        "static const HPyBridge_Slot _%s_export_slots[%d] HPYBRIDGE_GEN_UNUSED = {" % (name, len(spec.functions)),
    ]
    # The provider's table keeps `const` pointer targets (docs/cdict.md: a `__cdict__` call passes
    # read-only buffers only to them); import compares canonical signatures, which drop it.
    parse, _ = _parse_signature()
    out += ['    {"%s", "%s", (void *)%s_%s},' % (f.name, parse(f.signature, keep_const=True), name, f.name)
            for f in spec.functions]
    out += [
        "};",
        "",
        "/* Each slot's flags and doc string, in slot order (HPyBridge_ExportEx): what the module's",
        "   __cdict__ entries show. */",
        "static const HPyBridge_EntryInfo _%s_export_info[%d] HPYBRIDGE_GEN_UNUSED = {" % (name, len(spec.functions)),
    ]
    out += ["    {%s, %s}," % (_entry_flags(f), _c_text(f.doc)) for f in spec.functions]
    out += [
        "};",
        "",
        "static const HPyBridge_APITable %s_export_table HPYBRIDGE_GEN_UNUSED = {" % name,
        "    HPYBRIDGE_MAGIC, HPYBRIDGE_LAYOUT_VERSION, \"%s\", %s_API_MAJOR, %s_API_MINOR," % (name, up, up),
        "    %d, 0, NULL, _%s_export_slots," % (len(spec.functions), name),
        "};",
        "",
        "/* Registers the %s API with the hpybridge runtime and sets the module attribute %s_API_ATTR to the"
        % (name, up),
        "   capsule consumers import it from. For the provider's HPy_mod_exec slot: returns 0, or -1 with an",
        "   exception set (hpybridge.errors.APIRegistrationError if the API is already registered). */",
        "static inline int export_%s(HPyContext *ctx, HPy module)" % name,
        "{",
        "    return HPyBridge_ExportEx(ctx, module, &%s_export_table, _%s_export_info);" % (name, name),
        "}",
        "",
    ]
    for t in spec.types:
        out += _type_registration(name, t)
    out += [
        "#endif /* %s */" % guard,
        "",
    ]
    return "\n".join(out)


def _entry_flags(f):
    return "HPYBRIDGE_ENTRY_NOGIL" if f.nogil else "0"


def _c_text(text):
    """`text` as a C string literal (NULL if empty), escaped so that any UTF-8 doc survives."""
    if not text:
        return "NULL"
    escaped = "".join(c if c.isascii() and c.isprintable() and c not in '\\"' else
                      "".join("\\%03o" % b for b in c.encode()) for c in text)
    return '"%s"' % escaped


def _type_registration(api, t):
    """A `[[types]]` table's part of `<api>_export.h`: the entries' prototypes, their registration
    table and `register_<type>_cdict(ctx, type)` (docs/cdict.md §3)."""
    out = ["/* Type %s's __cdict__ entries%s: the provider defines %s_%s_<entry> and calls" % (
        t.name, " (" + _one_line(t.doc) + ")" if t.doc else "", api, t.name),
        "   register_%s_cdict(ctx, type) once it has made the type. */" % t.name]
    for e in t.entries:
        if e.doc:
            out.append("/* %s */" % _one_line(e.doc))
        out.append("%s;" % _declarator(e.ret, "%s_%s_%s" % (api, t.name, e.name), e.args))
    out += ["", "static const HPyBridge_Slot _%s_%s_cdict[%d] HPYBRIDGE_GEN_UNUSED = {" % (api, t.name, len(t.entries))]
    out += ['    {"%s", "%s", (void *)%s_%s_%s},' % (e.name, e.qualified, api, t.name, e.name) for e in t.entries]
    out += ["};", "static const HPyBridge_EntryInfo _%s_%s_cdict_info[%d] HPYBRIDGE_GEN_UNUSED = {"
            % (api, t.name, len(t.entries))]
    out += ["    {%s, %s}," % (_entry_flags(e), _c_text(e.doc)) for e in t.entries]
    out += [
        "};",
        "",
        "/* Adds the entries above, with their flags and docs, to `type`'s own __cdict__",
        "   (HPyBridge_CDictSetEx): every instance answers for them. Returns 0, or -1 with an exception set. */",
        "static inline int register_%s_cdict(HPyContext *ctx, HPy type)" % t.name,
        "{",
        "    for (size_t i = 0; i < %d; i++) {" % len(t.entries),
        "        const HPyBridge_Slot *e = &_%s_%s_cdict[i];" % (api, t.name),
        "        const HPyBridge_EntryInfo *info = &_%s_%s_cdict_info[i];" % (api, t.name),
        "        if (HPyBridge_CDictSetEx(ctx, type, e->name, e->signature, e->function, info->flags, info->doc) < 0)",
        "            return -1;",
        "    }",
        "    return 0;",
        "}",
        "",
    ]
    return out


def _capi_member(f):
    """The `<api>_CAPI` member of `f`: a pointer to its CPython-API form, or `void *` if none."""
    if f.fallback is None:
        return "void *%s" % f.name
    ret, args = _split(f.fallback)
    return _declarator(ret, "(*%s)" % f.name, args)


def _capi_expected(f):
    """The signature a C-API consumer expects in `f`'s slot of the fallback table: its CPython-API
    form, or, if it has none, its HPy signature (the runtime publishes that with no function)."""
    return f.fallback if f.fallback is not None else f.canonical


def render_capi_header(spec):
    name, up = spec.name, spec.name.upper()
    guard = "%s_CAPI_H" % up
    filename = "%s_capi.h" % name
    out = _header_comment(spec, filename, "the %s API for C-API consumers (Python.h, no HPy)." % name)
    out += [
        " *",
        " * The provider's functions in their CPython-API form (docs/fallback-stubs.md): no HPyContext *,",
        " * PyObject * for HPy (borrowed arguments, new-reference results), Py_ssize_t for HPy_ssize_t.",
        " * Errors as the provider reports them, with the Python exception set (NULL for PyObject *).",
        " * In the consumer's module initialisation, NumPy's import_array() style:",
        " *     static const %s_CAPI *%s_capi;" % (name, name),
        " *     ...",
        " *     %s_capi = import_%s_capi();" % (name, name),
        " *     if (%s_capi == NULL)" % name,
        " *         return NULL;",
        " * Define %s_API_MINOR_NEEDED before including this header to accept older providers. */" % up,
        "#ifndef %s" % guard,
        "#define %s" % guard,
        "",
        "#include <Python.h>",
        "",
        "#define %s_CAPI_MAJOR %d" % (up, spec.major),
        "#define %s_CAPI_MINOR %d" % (up, spec.minor),
        *_minor_needed(spec, "%s_CAPI_MINOR" % up, filename),
        "#define %s_CAPI_SLOT_COUNT(minor) %s" % (up, _slot_count_expr(spec, "minor")),
        "",
        "/* One member per slot, in slot order (the layout of the table import_%s_capi returns). */" % name,
        "typedef struct {",
    ]
    for f in spec.functions:
        comment = "since %d.%d; %s" % (f.since[0], f.since[1], f.canonical)
        if f.fallback is None:
            comment += "; " + _one_line("NULL here: " + f.no_fallback)
        out.append("    /* %s */" % comment)
        out.append("    %s;" % _capi_member(f))
    out += [
        "} %s_CAPI;" % name,
        "",
        "/* Imports the %s API from module '%s' (importing it if needed) through hpybridge, and returns"
        % (name, spec.module),
        "   the table of its CPython-API stubs (kept by the runtime for the life of the process), or NULL",
        "   with an exception set: hpybridge.errors.APIImportError or a subclass naming what this consumer",
        "   expects and what the provider has, or the error importing either module raised. */",
        "static inline const %s_CAPI *import_%s_capi(void)" % (name, name),
        "{",
        "    static const char *const names[] = {%s};" % ", ".join('"%s"' % f.name for f in spec.functions),
        "    static const char *const signatures[] = {",
    ]
    out += ['        "%s",' % _capi_expected(f) for f in spec.functions]
    out += [
        "    };",
        "    Py_ssize_t n = %s_CAPI_SLOT_COUNT(%s_API_MINOR_NEEDED);" % (up, up),
        "    const %s_CAPI *table = NULL;" % name,
        '    PyObject *hpybridge = PyImport_ImportModule("hpybridge");',
        "    PyObject *wanted = PyTuple_New(n);",
        "    PyObject *result = NULL;",
        "    if (hpybridge == NULL || wanted == NULL)",
        "        goto done;",
        "    for (Py_ssize_t i = 0; i < n; i++) {",
        '        PyObject *slot = Py_BuildValue("(ss)", names[i], signatures[i]);',
        "        if (slot == NULL)",
        "            goto done;",
        "        PyTuple_SET_ITEM(wanted, i, slot);",
        "    }",
        "    /* The address of `names` tells the runtime which shared object this consumer is. */",
        '    result = PyObject_CallMethod(hpybridge, "import_capi", "ssIIOn", "%s", "%s",' % (spec.module, name),
        "                                 (unsigned int)%s_CAPI_MAJOR, (unsigned int)%s_API_MINOR_NEEDED, wanted,"
        % (up, up),
        "                                 (Py_ssize_t)(Py_intptr_t)names);",
        "    if (result != NULL)",
        "        table = (const %s_CAPI *)PyLong_AsVoidPtr(result);" % name,
        "done:",
        "    Py_XDECREF(result);",
        "    Py_XDECREF(wanted);",
        "    Py_XDECREF(hpybridge);",
        "    return table;",
        "}",
        "",
        "#endif /* %s */" % guard,
        "",
    ]
    return "\n".join(out)


# C scalar types as Cython spells them (the rest are the same in both, or come from libc.stdint).
_CYTHON_NAMES = {"bool": "bint"}
_STDINT = ("int8_t", "uint8_t", "int16_t", "uint16_t", "int32_t", "uint32_t", "int64_t", "uint64_t", "intptr_t",
           "uintptr_t")


def _cython_type(c_type):
    """A canonical C type in Cython: `PyObject *` values are `object` (Cython then counts the
    references: borrowed arguments, new-reference results); pointers to them stay pointers."""
    if c_type == "PyObject *":
        return "object"
    base = c_type.rstrip(" *")
    return _CYTHON_NAMES.get(base, base) + c_type[len(base):]


def _cython_params(args):
    inner = args[1:-1]
    if inner == "void":
        return "()"
    return "(%s)" % ", ".join(_cython_type(a.strip()) for a in inner.split(","))


def render_pxd(spec):
    name = spec.name
    out = [
        "# %s_capi.pxd: the %s API for Cython consumers." % (name, name),
        "#",
        "# Generated by `python -m hpybridge gen %s` from %s %s: do not edit. Provider module: %s."
        % (os.path.basename(spec.path), name, spec.version, spec.module),
        "# The functions in their CPython-API form (docs/fallback-stubs.md), from %s_capi.h:" % name,
        "#",
        "#     cimport %s_capi" % name,
        "#     cdef const %s_capi.%s_CAPI *%s = %s_capi.import_%s_capi()" % (name, name, name, name, name),
        "#     %s.%s(...)" % (name, spec.functions[0].name),
        "#",
        "# A function returning `object` raises the provider's exception when it returns NULL; the others",
        "# are checked for an exception after every call (`except *`).",
        "",
        "from cpython.ref cimport PyObject",
        "from libc.stdint cimport %s" % ", ".join(_STDINT),
        "",
        'cdef extern from "%s_capi.h":' % name,
        "    ctypedef struct %s_CAPI:" % name,
    ]
    for f in spec.functions:
        if f.fallback is None:
            out.append("        void *%s  # %s" % (f.name, " ".join(f.no_fallback.split())))
            continue
        ret, args = _split(f.fallback)
        ret_type = _cython_type(ret)
        clause = "" if ret_type == "object" else " except *"
        out.append("        %s (*%s)%s%s" % (ret_type, f.name, _cython_params(args), clause))
    out += [
        "",
        "    const %s_CAPI *import_%s_capi() except NULL" % (name, name),
        "",
    ]
    return "\n".join(out)


def _c_string(text):
    return "NULL" if text is None else '"%s"' % text.replace("\\", "\\\\").replace('"', '\\"')


def render_foreign_header(spec):
    name, up = spec.name, spec.name.upper()
    guard = "%s_FOREIGN_H" % up
    filename = "%s_foreign.h" % name
    where = ("module '%s' attribute '%s', a dict of capsules named by the functions' C signatures (Cython)"
             % (spec.module, spec.attribute) if spec.pyx_capi else
             "module '%s' attribute '%s', a capsule %s holding a table of at least %d functions"
             % (spec.module, spec.attribute,
                "named '%s'" % spec.capsule_name if spec.capsule_name is not None else "without a name", spec.size))
    out = ["/* %s: foreign C-API functions for HPy consumers (docs/foreign-capsules.md)." % filename,
           " *",
           " * Generated by `python -m hpybridge gen %s`: do not edit." % os.path.basename(spec.path),
           " * From %s." % _one_line(where)]
    if spec.doc:
        out += [" *"] + _doc_block(spec.doc)
    out += [
        " *",
        " * Each function in its HPy form: call it with the calling function's own ctx and handles;",
        " * handles passed in are borrowed, a handle result is new (close it). Errors as the foreign",
        " * function reports them (HPy_NULL for a handle result), with the exception set.",
        " * In the consumer's HPy_mod_exec slot, NumPy's import_array() style:",
        " *     static const %s_Foreign *%s;" % (name, name),
        " *     ...",
        " *     %s = import_%s(ctx);" % (name, name),
        " *     if (%s == NULL)" % name,
        " *         return -1; */",
        "#ifndef %s" % guard,
        "#define %s" % guard,
        "",
        "#include <hpybridge.h>",
        "",
        _UNUSED,
        "",
        "/* One member per function, in spec order (the layout of the table import_%s returns). */" % name,
        "typedef struct {",
    ]
    for f in spec.functions:
        comment = ("%s['%s']" % (spec.attribute, f.key)) if spec.pyx_capi else ("entry %d" % f.index)
        comment += ": %s" % f.canonical
        if f.doc:
            comment += "; " + _one_line(f.doc)
        ret, args = _split(f.hpy_form)
        out.append("    /* %s */" % comment)
        out.append("    %s;" % _declarator(ret, "(*%s)" % f.name, args))
    n = len(spec.functions)
    out += [
        "} %s_Foreign;" % name,
        "",
        "/* What this consumer expects: per function its name, C-API signature and where it is. */",
        "static const HPyBridge_ForeignSlot _%s_foreign_slots[%d] HPYBRIDGE_GEN_UNUSED = {" % (name, n),
    ]
    out += ['    {"%s", "%s", %s, %d},' % (f.name, f.canonical, _c_string(f.key), f.index or 0)
            for f in spec.functions]
    out += [
        "};",
        "",
        "/* Imports module '%s' (if needed), finds and checks each function and returns the table, or NULL"
        % spec.module,
        "   with an exception set (hpybridge.errors.APIImportError or a subclass naming what was expected",
        "   and what was found, or the error importing the module raised). Keep the table in a static. */",
        "static inline const %s_Foreign *import_%s(HPyContext *ctx)" % (name, name),
        "{",
        "    static const HPyBridge_ForeignDecl wanted = {",
        "        HPYBRIDGE_MAGIC, HPYBRIDGE_LAYOUT_VERSION, \"%s\", \"%s\", \"%s\", %s," % (
            name, spec.module, spec.attribute, _c_string(spec.capsule_name)),
        "        %s, %d, %d, _%s_foreign_slots," % (
            "HPYBRIDGE_FOREIGN_PYX_CAPI" if spec.pyx_capi else "HPYBRIDGE_FOREIGN_TABLE", spec.size, n, name),
        "    };",
        "    return (const %s_Foreign *)HPyBridge_ImportForeign(ctx, &wanted);" % name,
        "}",
        "",
        "#endif /* %s */" % guard,
        "",
    ]
    return "\n".join(out)


def render(spec: Spec | ForeignSpec) -> dict[str, str]:
    """The generated files' names and contents: `<api>_api.h`, `<api>_export.h`, `<api>_capi.h` and
    `<api>_capi.pxd`; for a `[foreign]` spec, `<name>_foreign.h`."""
    if isinstance(spec, ForeignSpec):
        return {"%s_foreign.h" % spec.name: render_foreign_header(spec)}
    return {"%s_api.h" % spec.name: render_api_header(spec),
            "%s_export.h" % spec.name: render_export_header(spec),
            "%s_capi.h" % spec.name: render_capi_header(spec),
            "%s_capi.pxd" % spec.name: render_pxd(spec)}


# ---------------------------------------------------------------------------------------------
# Writing


def _write_if_changed(path, text):
    data = text.encode("utf-8")
    try:
        with open(path, "rb") as f:
            if f.read() == data:
                return False
    except FileNotFoundError:
        pass
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", dir=os.path.dirname(path) or ".")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)  # atomic: a concurrent build never sees half a header
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return True


def _generate(spec, out_dir=None):
    out_dir = out_dir if out_dir is not None else (os.path.dirname(os.path.abspath(spec.path)))
    os.makedirs(out_dir, exist_ok=True)
    results = []
    for filename, text in render(spec).items():
        path = os.path.join(out_dir, filename)
        results.append((path, _write_if_changed(path, text)))
    return results


def generate(spec: Spec, out_dir: str | None = None) -> list[str]:
    """Writes the generated files for `spec` into `out_dir` (default: the spec's directory), each only
    if its content changed, and returns their paths, in `render`'s order."""
    return [path for path, _ in _generate(spec, out_dir)]


def generate_rust(spec: Spec, out_dir: str | None = None, minor: int | None = None) -> str:
    """Writes `<api>_capi.rs` for Rust (PyO3) consumers of `spec` that need `<major>.<minor>`
    (default: the spec's version) into `out_dir` (default: the spec's directory), only if its
    content changed, and returns its path (hpybridge.gen_rust)."""
    return _generate_rust(spec, out_dir, minor)[0]


def _generate_rust(spec, out_dir, minor):
    from .gen_rust import render_rust

    out_dir = out_dir if out_dir is not None else (os.path.dirname(os.path.abspath(spec.path)))
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "%s_capi.rs" % spec.name)
    return path, _write_if_changed(path, render_rust(spec, minor))


def main(argv: list[str] | None = None) -> int:
    """python -m hpybridge gen SPEC [-o OUTDIR] [--rust [--minor M.N]]: returns 0, 2 for a bad spec or
    usage, 1 otherwise."""
    parser = argparse.ArgumentParser(
        prog="python -m hpybridge gen",
        description="Write <api>_api.h (consumers), <api>_export.h (provider), <api>_capi.h and "
                    "<api>_capi.pxd (C-API and Cython consumers) from an API spec (see docs/api-spec.md); "
                    "with --rust, <api>_capi.rs for Rust (PyO3) consumers instead "
                    "(docs/rust-consumers.md).")
    parser.add_argument("spec", help="the API spec, a TOML file")
    parser.add_argument("-o", "--output-dir", metavar="OUTDIR",
                        help="where to write the files (default: the spec's directory)")
    parser.add_argument("--rust", action="store_true", help="write the Rust module <api>_capi.rs")
    parser.add_argument("--cargo", action="store_true",
                        help="with --rust, for a build script: print cargo directives instead of what was written "
                             "(rerun-if-changed for the spec and the generator, and a cfg <api>_api_<major>_<minor> "
                             "for each version whose slots the module has)")
    parser.add_argument("--minor", metavar="M.N",
                        help="with --rust: the version the consumer needs (default: the spec's); the module "
                             "then holds that version's slots and accepts older providers down to it")
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else argv)
        if args.minor is not None and not args.rust:
            parser.error("--minor goes with --rust (C consumers define <API>_API_MINOR_NEEDED instead)")
        if args.cargo and not args.rust:
            parser.error("--cargo goes with --rust")
    except SystemExit as e:  # argparse has printed the usage
        return e.code if isinstance(e.code, int) else 2
    try:
        spec = load_spec(args.spec)
        if args.rust and isinstance(spec, ForeignSpec):
            raise SpecError("%s: --rust: a [foreign] spec is for HPy consumers (PyO3 code calls the C API itself)"
                            % args.spec)
        if args.rust:
            minor = None
            if args.minor is not None:
                major, minor = _version("--minor", "version", args.minor, "%d.0" % spec.major)
                if major != spec.major or minor > spec.minor:
                    raise SpecError("--minor: expected a version %d.0 to %s (the spec's), found %r"
                                    % (spec.major, spec.version, args.minor))
            results = [_generate_rust(spec, args.output_dir, minor)]
            if args.cargo:
                from . import gen_rust

                print("\n".join(gen_rust.cargo_directives(spec, minor, [args.spec, __file__, gen_rust.__file__])))
                return 0
        else:
            results = _generate(spec, args.output_dir)
    except SpecError as e:
        print("hpybridge gen: error: %s" % e, file=sys.stderr)
        return 2
    except (ImportError, OSError) as e:
        print("hpybridge gen: error: %s" % e, file=sys.stderr)
        return 1
    for path, changed in results:
        print("%s %s" % ("wrote" if changed else "unchanged", path))
    return 0

if __name__ == "__main__":
    sys.exit(main())
