/* hello: the smallest useful HPy universal extension; the demo loads it in every mode. */
#include <hpy.h>

HPyDef_METH(context, "context", HPyFunc_NOARGS, .doc = "The name of the HPy context this call runs in.")
static HPy context_impl(HPyContext *ctx, HPy self)
{
    return HPyUnicode_FromString(ctx, ctx->name);
}

HPyDef_METH(greet, "greet", HPyFunc_O, .doc = "greet(name) -> 'hello, <name>'")
static HPy greet_impl(HPyContext *ctx, HPy self, HPy name)
{
    HPy prefix = HPyUnicode_FromString(ctx, "hello, ");
    if (HPy_IsNull(prefix))
        return HPy_NULL;
    HPy result = HPy_Add(ctx, prefix, name);
    HPy_Close(ctx, prefix);
    return result;
}

static HPyDef *module_defines[] = {&context, &greet, NULL};
static HPyModuleDef moduledef = {.doc = "hpybridge example: hello", .defines = module_defines};

HPy_MODINIT(hello, moduledef)
