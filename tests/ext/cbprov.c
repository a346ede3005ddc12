/* cbprov: provider of the callback API (tests/ext/callback.toml). Its `call` calls a Python
   function, which may re-enter any consumer (and through it this provider) before it returns. */
#include <hpy.h>
#include "callback_export.h"

HPy callback_call(HPyContext *ctx, HPy f, long n)
{
    HPy arg = HPyLong_FromLong(ctx, n);
    if (HPy_IsNull(arg))
        return HPy_NULL;
    /* HPy_Call is past ctx_Capsule_New: PyPy 7.3.19 keeps it one member later (docs/hpy-contexts.md). */
    HPy r = HPYBRIDGE_CTX_MEMBER(ctx, ctx_Call)(ctx, f, &arg, 1, HPy_NULL);
    HPy_Close(ctx, arg);
    if (HPy_IsNull(r))
        return HPy_NULL;
    /* The context again, after the callback has re-entered. */
    HPy one = HPyLong_FromLong(ctx, 1);
    HPy sum = HPy_IsNull(one) ? HPy_NULL : HPy_Add(ctx, r, one);
    HPy_Close(ctx, one);
    HPy_Close(ctx, r);
    return sum;
}

long callback_bump(HPyContext *ctx, long n)
{
    HPy h = HPyLong_FromLong(ctx, n + 1);
    if (HPy_IsNull(h))
        return -1;
    long r = HPyLong_AsLong(ctx, h);
    HPy_Close(ctx, h);
    return r;
}

HPyDef_METH(context_name, "context_name", HPyFunc_NOARGS)
static HPy context_name_impl(HPyContext *ctx, HPy self)
{
    return HPyUnicode_FromString(ctx, ctx->name);
}

HPyDef_SLOT(exec, HPy_mod_exec)
static int exec_impl(HPyContext *ctx, HPy module)
{
    return export_callback(ctx, module);
}

static HPyDef *defines[] = {&context_name, &exec, NULL};
static HPyModuleDef moduledef = {.doc = "provider of the callback test API", .defines = defines};
HPy_MODINIT(cbprov, moduledef)
