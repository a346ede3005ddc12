/* cbcons: consumer of the callback API (tests/ext/callback.toml); its methods call the provider
   through the table with this module's own context. */
#include <hpy.h>
#include "callback_api.h"

static const callback_API *cb;

#define NEED_CB                                                                        \
    if (cb == NULL) {                                                                  \
        HPyErr_SetString(ctx, ctx->h_RuntimeError, "cbcons: call connect() first");   \
        return HPy_NULL;                                                               \
    }

HPyDef_METH(connect_meth, "connect", HPyFunc_NOARGS, .doc = "import the callback API")
static HPy connect_meth_impl(HPyContext *ctx, HPy self)
{
    cb = import_callback(ctx);
    return cb == NULL ? HPy_NULL : HPy_Dup(ctx, ctx->h_None);
}

HPyDef_METH(call_meth, "call", HPyFunc_VARARGS, .doc = "call(f, n): the provider's call(f, n)")
static HPy call_meth_impl(HPyContext *ctx, HPy self, const HPy *args, size_t nargs)
{
    HPy f;
    long n;
    NEED_CB
    if (!HPyArg_Parse(ctx, NULL, args, nargs, "Ol", &f, &n))
        return HPy_NULL;
    return cb->call(ctx, f, n);
}

HPyDef_METH(bump_meth, "bump", HPyFunc_O, .doc = "bump(n): the provider's bump(n)")
static HPy bump_meth_impl(HPyContext *ctx, HPy self, HPy arg)
{
    NEED_CB
    long n = HPyLong_AsLong(ctx, arg);
    if (n == -1 && HPyErr_Occurred(ctx))
        return HPy_NULL;
    long r = cb->bump(ctx, n);
    if (r == -1 && HPyErr_Occurred(ctx))
        return HPy_NULL;
    return HPyLong_FromLong(ctx, r);
}

HPyDef_METH(context_name, "context_name", HPyFunc_NOARGS)
static HPy context_name_impl(HPyContext *ctx, HPy self)
{
    return HPyUnicode_FromString(ctx, ctx->name);
}

static HPyDef *defines[] = {&connect_meth, &call_meth, &bump_meth, &context_name, NULL};
static HPyModuleDef moduledef = {.doc = "consumer of the callback test API", .defines = defines};
HPy_MODINIT(cbcons, moduledef)
