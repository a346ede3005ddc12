/* reenter: a pure HPy module (no hpybridge at all) whose method calls a Python function that calls
   the module again. The reproduction of PyPy 7.3.19's debug-mode abort on re-entry
   (docs/hpy-contexts.md, "PyPy's debug mode and re-entry").

   call(f, n) uses its context before and after calling f(n) with HPy_Call, and returns f(n) + 1;
   with f = lambda k: m.call(f, k - 1) if k > 0 else 0, call(f, n) re-enters n times and is n + 1.
   call_td(f, n) is the same through HPy_CallTupleDict, an older context member. */
#include <stddef.h>
#include <string.h>
#include <hpy.h>

/* PyPy 7.3.19's HPy (0.9.1.dev) keeps one more member, h_DictType, just before ctx_Capsule_New,
   so ctx_Call, which comes after it, sits one HPy later there than in the HPy 0.9.0 headers this
   file is built with (docs/hpy-contexts.md). This module does not use hpybridge, so it finds the
   member itself. */
typedef HPy (*call_fn)(HPyContext *, HPy, const HPy *, size_t, HPy);

static call_fn ctx_call_member(HPyContext *ctx)
{
    static const char pypy[] = " (PyPy backend)";
    size_t n = strlen(ctx->name), k = sizeof(pypy) - 1;
    size_t offset = offsetof(struct _HPyContext_s, ctx_Call);
    if (n >= k && strcmp(ctx->name + n - k, pypy) == 0)
        offset += sizeof(HPy);
    return *(call_fn *)((char *)ctx + offset);
}

static HPy call_then_add_one(HPyContext *ctx, const HPy *args, size_t nargs, int tuple_dict)
{
    HPy f;
    long n;
    if (!HPyArg_Parse(ctx, NULL, args, nargs, "Ol", &f, &n))
        return HPy_NULL;
    /* The context in use before the call... */
    HPy arg = HPyLong_FromLong(ctx, n);
    if (HPy_IsNull(arg))
        return HPy_NULL;
    HPy r;
    if (tuple_dict) {
        HPy t = HPyTuple_FromArray(ctx, &arg, 1);
        r = HPy_IsNull(t) ? HPy_NULL : HPy_CallTupleDict(ctx, f, t, HPy_NULL);
        HPy_Close(ctx, t);
    } else {
        r = ctx_call_member(ctx)(ctx, f, &arg, 1, HPy_NULL);
    }
    HPy_Close(ctx, arg);
    if (HPy_IsNull(r))
        return HPy_NULL;
    /* ...and after it, once f has re-entered this module. */
    HPy one = HPyLong_FromLong(ctx, 1);
    HPy sum = HPy_IsNull(one) ? HPy_NULL : HPy_Add(ctx, r, one);
    HPy_Close(ctx, one);
    HPy_Close(ctx, r);
    return sum;
}

HPyDef_METH(call_meth, "call", HPyFunc_VARARGS, .doc = "call(f, n) -> f(n) + 1, through HPy_Call")
static HPy call_meth_impl(HPyContext *ctx, HPy self, const HPy *args, size_t nargs)
{
    return call_then_add_one(ctx, args, nargs, 0);
}

HPyDef_METH(call_td_meth, "call_td", HPyFunc_VARARGS, .doc = "call_td(f, n) -> f(n) + 1, through HPy_CallTupleDict")
static HPy call_td_meth_impl(HPyContext *ctx, HPy self, const HPy *args, size_t nargs)
{
    return call_then_add_one(ctx, args, nargs, 1);
}

HPyDef_METH(context_name_meth, "context_name", HPyFunc_NOARGS, .doc = "the name of the context this module runs in")
static HPy context_name_meth_impl(HPyContext *ctx, HPy self)
{
    return HPyUnicode_FromString(ctx, ctx->name);
}

static HPyDef *defines[] = {&call_meth, &call_td_meth, &context_name_meth, NULL};
static HPyModuleDef moduledef = {.doc = "re-entry through a Python callback", .defines = defines};

HPy_MODINIT(reenter, moduledef)
