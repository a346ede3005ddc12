"""`python -m hpybridge gen --rust SPEC`: the Rust (PyO3) module for an API's CPython-API table.

From the same spec as the C headers (`hpybridge.gen.load_spec`) this writes `<api>_capi.rs`, one
self-contained Rust module for PyO3 consumers (docs/rust-consumers.md):

- `Table`: a `#[repr(C)]` struct of `unsafe extern "C" fn` pointers in slot order, in the CPython-API
  form of each signature (docs/fallback-stubs.md) with `pyo3::ffi` types: the layout of the table
  the runtime publishes, the same as `<api>_CAPI` of `<api>_capi.h`;
- `import(py)`: fetches the table once per process (a `PyOnceLock`, as rust-numpy keeps NumPy's
  `_ARRAY_API`) through `hpybridge.import_capi`, the call `import_<api>_capi()` of the C header makes,
  so the runtime checks magic, layout, version and every slot's signature and raises the same
  `hpybridge.errors.APIImportError` text for Rust, C and Cython consumers alike;
- `Api`: what `import` returns, with a safe method per slot: `PyObject *` parameters take
  `&Bound<PyAny>`, a `PyObject *` result is `PyResult<Bound<PyAny>>` (NULL raises the provider's
  exception), scalars stay scalars (in `PyResult`: an exception the provider set is an `Err`).
  Slots with raw pointer parameters get `unsafe` methods: what the pointers must point to is the
  provider's contract, not something a type can say.

Rust has no preprocessor, so the minor version a consumer needs is chosen when generating
(`--minor 1.0`): `Table` and `Api` then hold the slots of that version only, and older providers of
the same major are accepted. Pointee `const` is kept from the spec's spelling (`*const T`), though the
canonical signatures the runtime compares ignore it.
"""

from __future__ import annotations

import os
import re
import textwrap

__all__ = ["render_rust"]

# C scalar types (canonical spelling, CPython-API form) as Rust spells them.
_SCALARS = {
    "char": "::std::ffi::c_char",
    "signed char": "::std::ffi::c_schar",
    "unsigned char": "::std::ffi::c_uchar",
    "short": "::std::ffi::c_short",
    "unsigned short": "::std::ffi::c_ushort",
    "int": "::std::ffi::c_int",
    "unsigned int": "::std::ffi::c_uint",
    "long": "::std::ffi::c_long",
    "unsigned long": "::std::ffi::c_ulong",
    "long long": "::std::ffi::c_longlong",
    "unsigned long long": "::std::ffi::c_ulonglong",
    "size_t": "usize",
    "ssize_t": "isize",
    "Py_ssize_t": "ffi::Py_ssize_t",
    "intptr_t": "isize",
    "uintptr_t": "usize",
    "int8_t": "i8",
    "uint8_t": "u8",
    "int16_t": "i16",
    "uint16_t": "u16",
    "int32_t": "i32",
    "uint32_t": "u32",
    "int64_t": "i64",
    "uint64_t": "u64",
    "bool": "bool",  # C's _Bool: one byte, 0 or 1, as Rust's bool
    "float": "f32",
    "double": "f64",
    "void": "::std::ffi::c_void",  # only as a pointee: a void result is written as no result
    "PyObject": "ffi::PyObject",
}

# Rust's keywords: as identifiers they need `r#`; these four cannot take it and get a trailing `_`.
_RUST_KEYWORDS = frozenset("""
    as async await break const continue crate dyn else enum extern false fn for if impl in let loop
    match mod move mut pub ref return self Self static struct super trait true type unsafe use where
    while abstract become box do final gen macro override priv try typeof unsized virtual yield
""".split())
_NOT_RAW = frozenset({"crate", "self", "Self", "super"})

# Words that can end a C parameter's type, so are never its name.
_C_TYPE_WORDS = frozenset("""
    void char short int long float double signed unsigned _Bool bool const volatile restrict HPy
    HPyContext PyObject cpy_PyObject size_t ssize_t Py_ssize_t HPy_ssize_t HPy_UCS4 intptr_t uintptr_t
    int8_t uint8_t int16_t uint16_t int32_t uint32_t int64_t uint64_t
""".split())
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def rust_identifier(name):
    """`name` usable as a Rust identifier: `r#type` for a keyword, `self_` where `r#` is not allowed."""
    if name in _NOT_RAW:
        return name + "_"
    if name in _RUST_KEYWORDS:
        return "r#" + name
    return name


def _params(args):
    """The parameters of a canonical or spelled "(a, b)" list: [] for "(void)"."""
    inner = args.strip()[1:-1].strip()
    if inner in ("", "void"):
        return []
    return [p.strip() for p in inner.split(",")]  # no function pointers: a comma always separates


def _pointee_consts(spelled):
    """For a spelled C type such as "const char *const *p", whether each pointer level's pointee is
    const, innermost first ([True, True] here); [] for a non-pointer."""
    tokens = re.findall(r"\*|[A-Za-z_][A-Za-z0-9_]*", spelled)
    stars = [i for i, t in enumerate(tokens) if t == "*"]
    if not stars:
        return []
    consts = ["const" in tokens[:stars[0]]]
    for k in range(len(stars) - 1):
        consts.append("const" in tokens[stars[k] + 1:stars[k + 1]])
    return consts


def rust_type(canonical, spelled=""):
    """The Rust type of one canonical C type in CPython-API form ("double", "PyObject *", "char **"),
    with pointee const from its spelling in the spec ("const char *") when given."""
    base = canonical.rstrip(" *")
    depth = canonical.count("*")
    if base not in _SCALARS:
        raise ValueError("no Rust type for C type %r" % canonical)
    consts = _pointee_consts(spelled) if spelled else []
    if len(consts) != depth:
        consts = [False] * depth
    text = _SCALARS[base]
    for const in consts:
        text = "%s %s" % ("*const" if const else "*mut", text)
    return text


def _param_name(spelled):
    """The parameter name in a spelled C parameter ("double *out" -> "out"), or None."""
    words = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", spelled)
    if words and words[-1] not in _C_TYPE_WORDS and len(words) > 1:
        return words[-1]
    return None


class _Slot:
    """One slot as Rust sees it: field type, parameter names and Rust types, result."""

    def __init__(self, function):
        self.function = function
        self.field = rust_identifier(function.name)
        self.available = function.fallback is not None
        if not self.available:
            return
        ret, args = _split(function.fallback)
        params = _params(args)
        # The spec's spelling, for const and names: the HPy form has a leading HPyContext * that
        # the CPython-API form drops.
        spelled = _params(function.args)
        if function.canonical.split(" (", 1)[1].startswith("HPyContext *"):
            spelled = spelled[1:]
        if len(spelled) != len(params):
            spelled = [""] * len(params)
        self.ret_c = ret
        self.ret = None if ret == "void" else rust_type(ret, function.ret)
        self.params = []  # (name, C type, Rust type)
        used = {"py", "self"}
        for i, (c_type, text) in enumerate(zip(params, spelled)):
            name = _param_name(text)
            name = rust_identifier(name) if name and _IDENT.match(name) else "arg%d" % i
            while name in used:
                name += "_"
            used.add(name)
            self.params.append((name, c_type, rust_type(c_type, text)))

    @property
    def is_unsafe(self):
        """Raw pointers other than PyObject * are the caller's to make valid: the method is unsafe."""
        return any(c != "PyObject *" and "*" in c for _, c, _ in self.params)


def _split(canonical):
    ret, sep, rest = canonical.partition(" (")
    if not sep or not rest.endswith(")"):
        raise AssertionError("unexpected canonical signature %r" % canonical)
    return ret, "(" + rest


def _doc_lines(text, prefix):
    return [(prefix + " " + line).rstrip() for line in text.expandtabs(4).splitlines()]


def _rust_str(text):
    return '"%s"' % text.replace("\\", "\\\\").replace('"', '\\"')


def _wrap(head, items, tail, indent):
    """`head(items, ...)tail` on one line if it fits in 100 columns, else one item per line (rustfmt's
    layout), so the generated module reads like hand-written Rust."""
    one = "%s%s(%s)%s" % (indent, head, ", ".join(items), tail)
    if len(one) <= 100 or not items:
        return [one]
    return (["%s%s(" % (indent, head)] + ["%s    %s," % (indent, item) for item in items]
            + ["%s)%s" % (indent, tail)])


def _method(slot):
    f = slot.function
    lines = ["    /// `%s`: %s" % (f.name, f.fallback)]
    if f.doc:
        lines += ["    ///"] + _doc_lines(f.doc, "    ///")
    if slot.is_unsafe:
        lines += ["    ///",
                  "    /// # Safety",
                  "    /// Each pointer argument must be valid as the provider's documentation of `%s` says." % f.name]
    objects = any(c == "PyObject *" for _, c, _ in slot.params)
    bound = objects or slot.ret_c == "PyObject *"
    lifetime = "'py" if bound else "'_"
    params = ["&self", "py: Python<%s>" % lifetime]
    call_args = []
    for name, c_type, r_type in slot.params:
        if c_type == "PyObject *":
            params.append("%s: &Bound<'py, PyAny>" % name)
            call_args.append("%s.as_ptr()" % name)
        else:
            params.append("%s: %s" % (name, r_type))
            call_args.append(name)
    if slot.ret_c == "PyObject *":
        result = "PyResult<Bound<'py, PyAny>>"
    else:
        result = "PyResult<%s>" % (slot.ret or "()")
    lines.append("    #[inline]")
    if len(params) > 7:
        lines.append("    #[allow(clippy::too_many_arguments)]")
    head = "pub %sfn %s%s" % ("unsafe " if slot.is_unsafe else "", slot.field, "<'py>" if bound else "")
    lines += _wrap(head, params, " -> %s {" % result, "    ")
    why = "SAFETY: the runtime checked that this slot has exactly this signature"
    if objects:
        why += "; the object arguments are borrowed for the call"
    if slot.ret_c == "PyObject *":
        why += "; the result is a new reference, or NULL with the provider's exception set"
    if slot.is_unsafe:
        why += "; the pointer arguments are the caller's contract"
    lines += ["        // " + line for line in textwrap.wrap(why + ".", 88)]
    call = _wrap("(self.raw.%s)" % slot.field, call_args, "", "")
    if slot.ret_c == "PyObject *":
        if len(call) == 1:
            lines.append("        unsafe { Bound::from_owned_ptr_or_err(py, %s) }" % call[0])
        else:
            lines += ["        let result = unsafe {", *("            " + c for c in call), "        };",
                      "        // SAFETY: as above.", "        unsafe { Bound::from_owned_ptr_or_err(py, result) }"]
    else:
        let = "let result = " if slot.ret else ""  # a void call is a statement (clippy: let_unit_value)
        if len(call) == 1:
            lines.append("        %sunsafe { %s };" % (let, call[0]))
        else:
            lines += ["        %sunsafe {" % let] + ["            " + c for c in call] + ["        };"]
        lines += ["        failed_if_raised(py)?;", "        Ok(%s)" % ("result" if slot.ret else "()")]
    lines.append("    }")
    return lines


def version_cfg(spec, minor):
    """The cfg a build script sets when the module has the slots of `<major>.<minor>`."""
    return "%s_api_%d_%d" % (spec.name, spec.major, minor)


def cargo_directives(spec, minor, inputs):
    """What `gen --rust --cargo` prints for a build script: rerun when the spec or the generator
    (`inputs`) change, and `#[cfg(<api>_api_<major>_<minor>)]` for each version up to `minor`
    (default: the spec's), so that code can use a slot only where the module has it."""
    minor = spec.minor if minor is None else minor
    cfgs = [version_cfg(spec, m) for m in range(spec.minor + 1)]
    out = ["cargo::rerun-if-changed=%s" % os.path.abspath(p) for p in inputs]
    out.append("cargo::rustc-check-cfg=cfg(%s)" % ", ".join(cfgs))
    out += ["cargo::rustc-cfg=%s" % c for c in cfgs[:minor + 1]]
    return out


def render_rust(spec, minor=None):
    """The text of `<api>_capi.rs` for `spec`, for consumers that need version `<major>.<minor>`
    (default: the spec's own minor)."""
    minor = spec.minor if minor is None else minor
    if not 0 <= minor <= spec.minor:
        raise ValueError("minor version %d: expected 0 to %d (the spec's version is %s)"
                         % (minor, spec.minor, spec.version))
    functions = [f for f in spec.functions if f.since[1] <= minor]
    slots = [_Slot(f) for f in functions]
    name = spec.name
    out = [
        # Plain comments, not `//!`: the module is meant for `include!`, which takes no inner attributes.
        "// `%s_capi.rs`: the %s API for Rust (PyO3) consumers." % (name, name),
        "//",
        "// Generated by `python -m hpybridge gen --rust %s` from %s %s (consumer needs %d.%d): do not"
        % (os.path.basename(spec.path), name, spec.version, spec.major, minor),
        "// edit. Provider module: `%s`." % spec.module,
    ]
    if spec.doc:
        out += ["//"] + _doc_lines(spec.doc, "//")
    out += [
        "//",
        "// The provider's functions in their CPython-API form (docs/fallback-stubs.md): `PyObject *` for",
        "// `HPy` (borrowed arguments, new-reference results), no `HPyContext *`. In the consumer crate:",
        "//",
        "//     mod %s_capi {" % name,
        "//         include!(concat!(env!(\"OUT_DIR\"), \"/%s_capi.rs\"));" % name,
        "//     }",
        "//     let %s = %s_capi::import(py)?; // fetched once per process, checked by the runtime"
        % (name, name),
        "//",
        "// Every item allows dead_code: a consumer uses the slots it needs.",
        "",
        "use pyo3::ffi;",
        "use pyo3::prelude::*;",
        "use pyo3::sync::PyOnceLock;",
        "",
        "/// The API's name.",
        "#[allow(dead_code)]",
        "pub const NAME: &str = %s;" % _rust_str(name),
        "/// The module that provides it (`import` imports it if needed).",
        "#[allow(dead_code)]",
        "pub const MODULE: &str = %s;" % _rust_str(spec.module),
        "/// The version this module needs: the provider's major must be the same, its minor at least this.",
        "#[allow(dead_code)]",
        "pub const MAJOR: u32 = %d;" % spec.major,
        "/// See `MAJOR`.",
        "#[allow(dead_code)]",
        "pub const MINOR: u32 = %d;" % minor,
        "",
        "/// One member per slot, in slot order: the layout of the table the runtime publishes (the",
        "/// `%s_CAPI` struct of `%s_capi.h`)." % (name, name),
        "#[repr(C)]",
        "#[allow(dead_code, clippy::type_complexity)]",
        "pub struct Table {",
    ]
    for slot in slots:
        f = slot.function
        out.append("    /// since %d.%d; %s" % (f.since[0], f.since[1], f.canonical))
        if slot.available:
            out += _wrap("pub %s: unsafe extern \"C\" fn" % slot.field, [t for _, _, t in slot.params],
                         "%s," % (" -> %s" % slot.ret if slot.ret else ""), "    ")
        else:
            out.append("    /// Always `None`: %s" % " ".join(f.no_fallback.split()))
            out.append("    pub %s: Option<unsafe extern \"C\" fn()>," % slot.field)
    out += [
        "}",
        "",
        "/// (name, CPython-API signature) of each slot this module uses, in slot order: what the runtime",
        "/// checks the provider's table against.",
        "#[allow(dead_code)]",
        "static SLOTS: [(&str, &str); %d] = [" % len(functions),
    ]
    for f in functions:
        out.append("    (%s, %s)," % (_rust_str(f.name), _rust_str(f.fallback if f.fallback is not None
                                                                    else f.canonical)))
    out += [
        "];",
        "",
        "/// The imported API: a safe method per slot (`raw` for the function pointers themselves).",
        "#[allow(dead_code)]",
        "pub struct Api {",
        "    pub raw: &'static Table,",
        "}",
        "",
        "/// Imports the %s API from module `%s` (importing it if needed) through hpybridge, once per" % (name,
                                                                                                    spec.module),
        "/// process: the runtime checks the provider's table against this module's declaration and raises",
        "/// `hpybridge.errors.APIImportError` (or a subclass) naming what each side has, or the error",
        "/// importing either module raised.",
        "#[allow(dead_code)]",
        "pub fn import(py: Python<'_>) -> PyResult<&'static Api> {",
        "    static API: PyOnceLock<Api> = PyOnceLock::new();",
        "    API.get_or_try_init(py, || {",
        "        let address: usize = py",
        "            .import(\"hpybridge\")?",
        "            .call_method1(",
        "                \"import_capi\",",
        "                // The address of SLOTS tells the runtime which shared object this consumer is.",
        "                (MODULE, NAME, MAJOR, MINOR, SLOTS.to_vec(), SLOTS.as_ptr() as usize),",
        "            )?",
        "            .extract()?;",
        "        // SAFETY: import_capi returned the address of the provider's published table of",
        "        // CPython-API stubs, checked slot by slot against SLOTS (the fields of Table, in order);",
        "        // the runtime keeps it for the life of the process.",
        "        let raw = unsafe { &*(address as *const Table) };",
        "        Ok(Api { raw })",
        "    })",
        "}",
        "",
        "/// The provider's exception, if it set one: how scalar results report errors.",
        "#[inline]",
        "#[allow(dead_code)]",
        "fn failed_if_raised(py: Python<'_>) -> PyResult<()> {",
        "    // SAFETY: attached to the interpreter (`py`); PyErr_Occurred only reads the thread's state.",
        "    if unsafe { ffi::PyErr_Occurred() }.is_null() {",
        "        Ok(())",
        "    } else {",
        "        Err(PyErr::fetch(py))",
        "    }",
        "}",
        "",
        "#[allow(dead_code)]",
        "impl Api {",
    ]
    methods = [_method(slot) for slot in slots if slot.available]
    for i, m in enumerate(methods):
        if i:
            out.append("")
        out += m
    out += ["}", ""]
    text = "\n".join(out)
    if "failed_if_raised(py)?" not in text:  # no scalar results: leave the helper out (dead code)
        start = text.index("/// The provider's exception, if it set one")
        text = text[:start] + text[text.index("#[allow(dead_code)]\nimpl Api {"):]
    if not re.search(r"(?<!:)\bffi::", text):
        text = text.replace("use pyo3::ffi;\n", "")
    return text
