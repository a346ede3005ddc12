/* The definition of the `hpybridge._runtime` module: methods, slots and the HPyModuleDef.
 *
 * Why C: HPyDef_METH / HPyDef_SLOT expand, from HPy's own headers, into the CPython-side trampoline
 * each definition needs (how it packs arguments for ctx_CallRealFunctionFromTrampoline is an HPy
 * detail that changes between releases). Compiling them keeps that glue in lockstep with the headers
 * we build against; every function here only forwards to Rust (src/module/functions.rs).
 *
 * The four HPy_MODINIT symbols are defined in Rust (src/module/modinit.rs), because a Rust cdylib exports
 * only Rust's own `#[no_mangle]` functions: C symbols linked into it stay hidden. */
#include <hpy.h>
#include "runtime.h"

/* HPy_MODINIT would define this; modinit.rs sets it through HPyInitGlobalContext__runtime. */
HPyContext *_ctx_for_trampolines;

HPyDef_METH(abi_info, "abi_info", HPyFunc_NOARGS,
            .doc = "abi_info() -> dict: the hpybridge version, the HPy ABI it was built for, and the "
                   "HPy context (name, mode, interpreter) this module was called with.")
static HPy abi_info_impl(HPyContext *ctx, HPy self)
{
    (void)self;
    return hpybridge_abi_info(ctx);
}

HPyDef_METH(parse_signature, "parse_signature", HPyFunc_O,
            .doc = "parse_signature(text) -> str: the canonical spelling of a C signature such as "
                   "'double (HPyContext *, HPy)'. Raises hpybridge.errors.SignatureSyntaxError.")
static HPy parse_signature_impl(HPyContext *ctx, HPy self, HPy text)
{
    (void)self;
    return hpybridge_parse_signature(ctx, text);
}

HPyDef_METH(needs_interpreter, "needs_interpreter", HPyFunc_O,
            .doc = "needs_interpreter(text) -> str | None: the first type of a C signature that needs the "
                   "interpreter (so the GIL): HPyContext *, HPy, PyObject *; None if it has none.")
static HPy needs_interpreter_impl(HPyContext *ctx, HPy self, HPy text)
{
    (void)self;
    return hpybridge_needs_interpreter(ctx, text);
}

HPyDef_METH(qualified_signature, "qualified_signature", HPyFunc_O,
            .doc = "qualified_signature(text) -> str: the canonical spelling of a C signature with const "
                   "pointer targets kept, e.g. 'int (const double *, double *)'.")
static HPy qualified_signature_impl(HPyContext *ctx, HPy self, HPy text)
{
    (void)self;
    return hpybridge_qualified_signature(ctx, text);
}

HPyDef_METH(fallback_signature, "fallback_signature", HPyFunc_O,
            .doc = "fallback_signature(text) -> str: the CPython-API form of an HPy signature, e.g. "
                   "'PyObject * (PyObject *)' for 'HPy (HPyContext *, HPy)'. Raises "
                   "hpybridge.errors.NoFallbackError if it has none.")
static HPy fallback_signature_impl(HPyContext *ctx, HPy self, HPy text)
{
    (void)self;
    return hpybridge_fallback_signature(ctx, text);
}

HPyDef_METH(foreign_signature, "foreign_signature", HPyFunc_O,
            .doc = "foreign_signature(text) -> str: the HPy form of a foreign C-API signature, e.g. "
                   "'HPy (HPyContext *, HPy, double)' for 'PyObject * (PyObject *, double)'. Raises "
                   "ValueError if it has none.")
static HPy foreign_signature_impl(HPyContext *ctx, HPy self, HPy text)
{
    (void)self;
    return hpybridge_foreign_signature(ctx, text);
}

HPyDef_METH(import_capi, "import_capi", HPyFunc_VARARGS,
            .doc = "import_capi(module, api, major, minor, slots, at) -> int: the address of the table of "
                   "CPython-API stubs of `module`'s API `api`, checked against the consumer's declaration "
                   "(what import_<api>_capi() of a generated <api>_capi.h calls).")
static HPy import_capi_impl(HPyContext *ctx, HPy self, const HPy *args, size_t n)
{
    (void)self;
    return hpybridge_import_capi(ctx, args, n);
}

HPyDef_METH(apis, "apis", HPyFunc_NOARGS,
            .doc = "apis() -> list of dict: every API registered with this runtime, its provider "
                   "(module, file, context family), slots, and the consumers that imported it.")
static HPy apis_impl(HPyContext *ctx, HPy self)
{
    (void)self;
    return hpybridge_apis(ctx);
}

HPyDef_METH(count_calls, "count_calls", HPyFunc_O,
            .doc = "count_calls(on) -> bool: route every API table's calls through counting stubs (on) "
                   "or back (off; then calls cost nothing extra). Returns whether counting was on.")
static HPy count_calls_impl(HPyContext *ctx, HPy self, HPy on)
{
    (void)self;
    return hpybridge_count_calls(ctx, on);
}

HPyDef_METH(call_counts, "call_counts", HPyFunc_NOARGS,
            .doc = "call_counts() -> list of dict: calls per (consumer, API, function) edge since "
                   "counting was switched on.")
static HPy call_counts_impl(HPyContext *ctx, HPy self)
{
    (void)self;
    return hpybridge_call_counts(ctx);
}

HPyDef_METH(trampoline_info, "trampoline_info", HPyFunc_NOARGS,
            .doc = "trampoline_info() -> dict: the trampoline backend (dynasm or libffi) and the "
                   "executable memory its trampolines take.")
static HPy trampoline_info_impl(HPyContext *ctx, HPy self)
{
    (void)self;
    return hpybridge_trampoline_info(ctx);
}

HPyDef_METH(lookup_cache_info, "lookup_cache_info", HPyFunc_NOARGS,
            .doc = "lookup_cache_info() -> dict: HPyBridge_CDictLookup's cache so far: answers given from it "
                   "(hits), answers stored (fills), types kept alive for it (kept, their addresses) and debug "
                   "modes whose handles it reads (debug_modes).")
static HPy lookup_cache_info_impl(HPyContext *ctx, HPy self)
{
    (void)self;
    return hpybridge_lookup_cache_info(ctx);
}

HPyDef_METH(cdict_entries, "cdict_entries", HPyFunc_O,
            .doc = "cdict_entries(api) -> list: the __cdict__ entries of a registered API, each (name, "
                   "[(signature, index, family, provider, flags, refused), ...]) (docs/cdict.md).")
static HPy cdict_entries_impl(HPyContext *ctx, HPy self, HPy api)
{
    (void)self;
    return hpybridge_cdict_entries(ctx, api);
}

HPyDef_METH(cdict_call, "cdict_call", HPyFunc_VARARGS,
            .doc = "cdict_call(key, *args): calls the CFunction whose implementations `key` names (an "
                   "index, or a tuple of them) with `args` (what hpybridge.CFunction.__call__ does).")
static HPy cdict_call_impl(HPyContext *ctx, HPy self, const HPy *args, size_t n)
{
    (void)self;
    return hpybridge_cdict_call(ctx, args, n);
}

HPyDef_METH(cdict_function, "cdict_function", HPyFunc_VARARGS,
            .doc = "cdict_function(name, indices, doc) -> CFunction: the __cdict__ entry `name` of the "
                   "implementations `indices` (a tuple of ints, from cdict_entries), described by `doc`.")
static HPy cdict_function_impl(HPyContext *ctx, HPy self, const HPy *args, size_t n)
{
    return hpybridge_cdict_function(ctx, self, args, n);
}

HPyDef_METH(cdict_adopt, "cdict_adopt", HPyFunc_VARARGS,
            .doc = "cdict_adopt(name, provider, address, signature, bound, flags) -> int: the index of an implementation "
                   "of the foreign C function at `address` (hpybridge.cfunction, docs/cdict.md, section 10).")
static HPy cdict_adopt_impl(HPyContext *ctx, HPy self, const HPy *args, size_t n)
{
    (void)self;
    return hpybridge_cdict_adopt(ctx, args, n);
}

HPyDef_METH(capsule_contents, "capsule_contents", HPyFunc_VARARGS,
            .doc = "capsule_contents(capsule, name) -> (name, pointer, context): what a capsule holds, read "
                   "with `name` (None: the capsule's own name).")
static HPy capsule_contents_impl(HPyContext *ctx, HPy self, const HPy *args, size_t n)
{
    (void)self;
    return hpybridge_capsule_contents(ctx, args, n);
}

HPyDef_METH(cdict_set, "cdict_set", HPyFunc_VARARGS,
            .doc = "cdict_set(obj, name, function): the implementations of the CFunction `function` become entry "
                   "`name` of obj's own __cdict__ (hpybridge.cdict_set).")
static HPy cdict_set_impl(HPyContext *ctx, HPy self, const HPy *args, size_t n)
{
    return hpybridge_cdict_set_function(ctx, self, args, n);
}

HPyDef_METH(box, "box", HPyFunc_VARARGS,
            .doc = "box(ctype, value) -> bytes: value as the bytes of a C ctype (docs/cdict.md).")
static HPy box_impl(HPyContext *ctx, HPy self, const HPy *args, size_t n)
{
    (void)self;
    return hpybridge_box(ctx, args, n);
}

HPyDef_METH(unbox, "unbox", HPyFunc_VARARGS,
            .doc = "unbox(ctype, data): the value of the C ctype whose bytes are data (docs/cdict.md).")
static HPy unbox_impl(HPyContext *ctx, HPy self, const HPy *args, size_t n)
{
    (void)self;
    return hpybridge_unbox(ctx, args, n);
}

HPyDef_SLOT(exec, HPy_mod_exec)
static int exec_impl(HPyContext *ctx, HPy module)
{
    return hpybridge_exec(ctx, module);
}

static HPyDef *module_defines[] = {&abi_info, &parse_signature, &needs_interpreter, &qualified_signature, &fallback_signature, &foreign_signature,
                                     &import_capi, &apis, &count_calls, &call_counts, &trampoline_info, &lookup_cache_info,
                                     &cdict_entries,
                                     &cdict_call, &cdict_function, &cdict_adopt, &capsule_contents, &cdict_set,
                                     &box, &unbox, &exec, NULL};

HPyModuleDef hpybridge_moduledef = {
    .doc = "hpybridge runtime: registry of exported HPy C APIs and their cross-context call paths.",
    .size = 0,
    .defines = module_defines,
};
