/* The type hpybridge._runtime.CFunction (docs/cdict.md §2): a __cdict__ entry, callable from Python.
 *
 * A pure HPy type whose instances hold one pointer, to the entry's Rust data (src/cdict/function.rs),
 * owned by the instance and immutable. Its call slot is HPy_tp_call, which HPy 0.9 makes a vectorcall
 * function on CPython (HPyFunc_KEYWORDS: the arguments arrive as an array, no tuple is built); every
 * function here only forwards to Rust (src/module/cfunction.rs). Separate from module.c: one idea. */
#include <hpy.h>
#include <string.h>
#include "runtime.h"

typedef struct {
    const void *function; /* a Box<cdict::function::CFunction>, freed by the destroy slot */
} CFunctionObject;

HPyType_HELPERS(CFunctionObject)

static const void *function_of(HPyContext *ctx, HPy self)
{
    return CFunctionObject_AsStruct(ctx, self)->function;
}

static int on_pypy(HPyContext *ctx)
{
    return ctx->name != NULL && strstr(ctx->name, "(PyPy backend)") != NULL;
}

HPyDef_SLOT(cfunction_call, HPy_tp_call)
static HPy cfunction_call_impl(HPyContext *ctx, HPy self, const HPy *args, size_t nargs, HPy kwnames)
{
    return hpybridge_cfunction_call(ctx, function_of(ctx, self), args, nargs, kwnames);
}

HPyDef_SLOT(cfunction_new, HPy_tp_new)
static HPy cfunction_new_impl(HPyContext *ctx, HPy type, const HPy *args, HPy_ssize_t nargs, HPy kw)
{
    (void)type;
    (void)args;
    (void)nargs;
    (void)kw;
    HPyErr_SetString(ctx, ctx->h_TypeError, "CFunction objects come from a __cdict__; they cannot be made by hand");
    return HPy_NULL;
}

HPyDef_SLOT(cfunction_destroy, HPy_tp_destroy)
static void cfunction_destroy_impl(void *obj)
{
    hpybridge_cfunction_free(((CFunctionObject *)obj)->function);
}

HPyDef_SLOT(cfunction_repr, HPy_tp_repr)
static HPy cfunction_repr_impl(HPyContext *ctx, HPy self)
{
    return hpybridge_cfunction_repr(ctx, function_of(ctx, self));
}

/* The read-only attributes: one Rust getter, told which by the closure, and a setter that refuses.
 * PyPy 7.3.19 aborts on an assignment to an HPy attribute without a setter, and ignores a setter's
 * -1, leaving its exception set for whatever runs next: there the setter ignores the assignment. */
#define CFUNCTION_GETTER(SYM, NAME, WHICH, DOC)                                                   \
    HPyDef_GETSET(SYM, NAME, .doc = DOC, .closure = (void *)WHICH)                                \
    static HPy SYM##_get(HPyContext *ctx, HPy self, void *closure)                                \
    {                                                                                             \
        return hpybridge_cfunction_get(ctx, function_of(ctx, self), (int)(intptr_t)closure);     \
    }                                                                                             \
    static int SYM##_set(HPyContext *ctx, HPy self, HPy value, void *closure)                     \
    {                                                                                             \
        (void)self;                                                                               \
        (void)value;                                                                              \
        (void)closure;                                                                            \
        if (on_pypy(ctx))                                                                         \
            return 0;                                                                             \
        HPyErr_SetString(ctx, ctx->h_AttributeError,                                              \
                         "attribute '" NAME "' of 'hpybridge.CFunction' objects is not writable"); \
        return -1;                                                                                \
    }

CFUNCTION_GETTER(cfunction_name, "name", 0, "<module>.<entry>.")
CFUNCTION_GETTER(cfunction_signatures, "signatures", 1,
                 "The canonical signatures of the implementations, in the order calls try them.")
CFUNCTION_GETTER(cfunction_implementations, "implementations", 2,
                 "The implementations, as hpybridge.cdict.Implementation named tuples.")
CFUNCTION_GETTER(cfunction_doc, "doc", 3, "What the entry is: its API and signatures.")

HPyDef_METH(cfunction_select, "select", HPyFunc_O,
            .doc = "select(signature) -> CFunction: this entry's implementation of `signature` alone (any "
                   "spelling the parser accepts); KeyError if it has none.")
static HPy cfunction_select_impl(HPyContext *ctx, HPy self, HPy signature)
{
    return hpybridge_cfunction_select(ctx, self, function_of(ctx, self), signature);
}

HPyDef_METH(cfunction_reduce, "__reduce__", HPyFunc_NOARGS, .doc = "CFunction objects cannot be pickled.")
static HPy cfunction_reduce_impl(HPyContext *ctx, HPy self)
{
    (void)self;
    HPyErr_SetString(ctx, ctx->h_TypeError, "CFunction objects cannot be pickled: they hold C function pointers");
    return HPy_NULL;
}

/* Exporting to foreign callers (docs/export.md). The runtime gives the entry's foreign form as a
 * tuple (name, signature, address, uses_python); hpybridge.export (Python) turns it into what each
 * caller takes. Python is given the tuple, never the entry: on PyPy a debug-mode module must not be
 * re-entered from Python code it called. */
static HPy forward_to_export(HPyContext *ctx, HPy self, const char *name, const HPy *args, size_t nargs,
                             HPy kwnames)
{
    HPy result = HPy_NULL, f = HPy_NULL, items = HPy_NULL, kw = HPy_NULL;
    HPy foreign = hpybridge_cfunction_foreign(ctx, function_of(ctx, self));
    if (HPy_IsNull(foreign))
        return HPy_NULL;
    HPy module = HPyImport_ImportModule(ctx, "hpybridge.export");
    if (HPy_IsNull(module))
        goto done;
    f = HPy_GetAttr_s(ctx, module, name);
    HPy_Close(ctx, module);
    if (HPy_IsNull(f))
        goto done;
    size_t nkw = HPy_IsNull(kwnames) ? 0 : (size_t)HPy_Length(ctx, kwnames);
    size_t npos = nargs;
    HPyTupleBuilder tb = HPyTupleBuilder_New(ctx, (HPy_ssize_t)npos + 1);
    HPyTupleBuilder_Set(ctx, tb, 0, foreign);
    for (size_t i = 0; i < npos; i++)
        HPyTupleBuilder_Set(ctx, tb, (HPy_ssize_t)i + 1, args[i]);
    items = HPyTupleBuilder_Build(ctx, tb);
    if (HPy_IsNull(items))
        goto done;
    if (nkw > 0) {
        kw = HPyDict_New(ctx);
        if (HPy_IsNull(kw))
            goto done;
        for (size_t i = 0; i < nkw; i++) {
            HPy key = HPy_GetItem_i(ctx, kwnames, (HPy_ssize_t)i);
            if (HPy_IsNull(key))
                goto done;
            int rc = HPy_SetItem(ctx, kw, key, args[nargs + i]);
            HPy_Close(ctx, key);
            if (rc < 0)
                goto done;
        }
    }
    result = HPy_CallTupleDict(ctx, f, items, kw);
done:
    HPy_Close(ctx, kw);
    HPy_Close(ctx, items);
    HPy_Close(ctx, f);
    HPy_Close(ctx, foreign);
    return result;
}

#define CFUNCTION_EXPORT(SYM, NAME, TARGET, DOC)                                                      \
    HPyDef_METH(SYM, NAME, HPyFunc_KEYWORDS, .doc = DOC)                                              \
    static HPy SYM##_impl(HPyContext *ctx, HPy self, const HPy *args, size_t nargs, HPy kwnames)      \
    {                                                                                                 \
        return forward_to_export(ctx, self, TARGET, args, nargs, kwnames);                            \
    }

CFUNCTION_EXPORT(cfunction_foreign_form, "foreign_form", "foreign_form",
                 "foreign_form() -> (signature, address): the C function foreign callers call for this entry: "
                 "no HPyContext *, PyObject * for HPy; valid for the life of the process.")
CFUNCTION_EXPORT(cfunction_as_ctypes, "as_ctypes", "as_ctypes",
                 "as_ctypes() -> a ctypes function pointer of the entry's foreign form.")
CFUNCTION_EXPORT(cfunction_as_cffi, "as_cffi", "as_cffi",
                 "as_cffi(ffi) -> a cffi function pointer (of `ffi`) of the entry's foreign form.")
CFUNCTION_EXPORT(cfunction_lowlevelcallable, "lowlevelcallable", "lowlevelcallable",
                 "lowlevelcallable(user_data=None) -> scipy.LowLevelCallable named with SciPy's spelling of "
                 "the signature (quad, ndimage's generic_filter, ...).")
CFUNCTION_EXPORT(cfunction_wrapper_address, "__wrapper_address__", "wrapper_address",
                 "numba's Wrapper Address Protocol: the address of the entry's foreign form.")
CFUNCTION_EXPORT(cfunction_numba_signature, "signature", "numba_signature",
                 "numba's Wrapper Address Protocol: the numba signature of the entry's foreign form.")

/* numba's typeof asks every object for `_numba_type_` first: the entry's first-class function type
 * (hpybridge.export.numba_type), so @njit code takes an entry with no registration step; None (which
 * numba reads as "not given") while numba is not imported. */
HPyDef_GETSET(cfunction_numba_type, "_numba_type_", .doc = "numba's type of this entry (a FunctionType).")
static HPy cfunction_numba_type_get(HPyContext *ctx, HPy self, void *closure)
{
    (void)closure;
    /* PyPy 7.3.19 turns a getter's error into None with the exception left set, and has no numba. */
    if (on_pypy(ctx))
        return HPy_Dup(ctx, ctx->h_None);
    return forward_to_export(ctx, self, "numba_type", NULL, 0, HPy_NULL);
}
static int cfunction_numba_type_set(HPyContext *ctx, HPy self, HPy value, void *closure)
{
    (void)self;
    (void)value;
    (void)closure;
    if (on_pypy(ctx))
        return 0;
    HPyErr_SetString(ctx, ctx->h_AttributeError,
                     "attribute '_numba_type_' of 'hpybridge.CFunction' objects is not writable");
    return -1;
}

static HPyDef *cfunction_defines[] = {&cfunction_call, &cfunction_new, &cfunction_destroy, &cfunction_repr,
                                      &cfunction_name, &cfunction_signatures, &cfunction_implementations,
                                      &cfunction_doc, &cfunction_select, &cfunction_reduce,
                                      /* exports (docs/export.md) */
                                      &cfunction_foreign_form, &cfunction_as_ctypes, &cfunction_as_cffi,
                                      &cfunction_lowlevelcallable, &cfunction_wrapper_address,
                                      &cfunction_numba_signature, &cfunction_numba_type, NULL};

static HPyType_Spec cfunction_spec = {
    .name = "hpybridge._runtime.CFunction",
    .doc = "A C entry point: one or more implementations keyed by canonical signature.\n\n"
           "Calling it from Python marshals the arguments by the C types of the implementation it picks: "
           "the first, in order, whose parameters all accept the arguments (an entry's HPy implementation "
           "comes before its CPython-API one); if none does, the first implementation's error is raised. "
           "Equality is identity. Made by the runtime (__cdict__), not by hand.",
    .basicsize = sizeof(CFunctionObject),
    .builtin_shape = SHAPE(CFunctionObject),
    .flags = HPy_TPFLAGS_DEFAULT,
    .defines = cfunction_defines,
};

int hpybridge_cfunction_add_type(HPyContext *ctx, HPy module)
{
    HPy type = HPyType_FromSpec(ctx, &cfunction_spec, NULL);
    if (HPy_IsNull(type))
        return -1;
    int rc = HPy_SetAttr_s(ctx, module, "CFunction", type);
    HPy_Close(ctx, type);
    return rc;
}

/* On CPython's universal and trace runtimes each instance gets a native vectorcall function of the
 * runtime's (src/module/cfunction_vectorcall.rs), which takes scalar calls itself and hands every
 * other call to HPy's trampoline of the call slot above. HPy_SetCallFunction only copies the
 * function's address into the instance, so the HPyCallFunction may live on the stack. */
HPy hpybridge_cfunction_new_object(HPyContext *ctx, HPy type, const void *function)
{
    CFunctionObject *data;
    HPy h = HPy_New(ctx, type, &data);
    if (HPy_IsNull(h))
        return h;
    data->function = function;
    cpy_vectorcallfunc hpy_trampoline = (cpy_vectorcallfunc)cfunction_call.slot.cpy_trampoline;
    cpy_vectorcallfunc vectorcall = NULL;
    int native = hpybridge_cfunction_native_call(ctx, h, data, hpy_trampoline, &vectorcall);
    if (native == 1) {
        HPyCallFunction call = {.impl = cfunction_call_impl, .cpy_trampoline = vectorcall};
        native = HPy_SetCallFunction(ctx, h, &call);
    }
    if (native < 0) {
        HPy_Close(ctx, h);
        return HPy_NULL;
    }
    return h;
}

/* The Rust data of `obj`, an instance of this type (the caller checked): for hpybridge.cdict_set. */
const void *hpybridge_cfunction_data(HPyContext *ctx, HPy obj)
{
    return function_of(ctx, obj);
}
