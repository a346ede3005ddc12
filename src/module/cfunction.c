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

static HPyDef *cfunction_defines[] = {&cfunction_call, &cfunction_new, &cfunction_destroy, &cfunction_repr,
                                      &cfunction_name, &cfunction_signatures, &cfunction_implementations,
                                      &cfunction_doc, &cfunction_select, &cfunction_reduce, NULL};

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

HPy hpybridge_cfunction_new_object(HPyContext *ctx, HPy type, const void *function)
{
    CFunctionObject *data;
    HPy h = HPy_New(ctx, type, &data);
    if (!HPy_IsNull(h))
        data->function = function;
    return h;
}

/* The Rust data of `obj`, an instance of this type (the caller checked): for hpybridge.cdict_set. */
const void *hpybridge_cfunction_data(HPyContext *ctx, HPy obj)
{
    return function_of(ctx, obj);
}
