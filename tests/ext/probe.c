/* probe: a small HPy universal extension the foundation tests load in every mode. */
#include <hpy.h>

HPyDef_METH(context_name, "context_name", HPyFunc_NOARGS,
            .doc = "The name of the HPy context this module is called with.")
static HPy context_name_impl(HPyContext *ctx, HPy self)
{
    return HPyUnicode_FromString(ctx, ctx->name);
}

HPyDef_METH(add, "add", HPyFunc_VARARGS, .doc = "add(a, b) -> a + b")
static HPy add_impl(HPyContext *ctx, HPy self, const HPy *args, size_t nargs)
{
    if (nargs != 2) {
        HPyErr_SetString(ctx, ctx->h_TypeError, "add() takes exactly 2 arguments");
        return HPy_NULL;
    }
    return HPy_Add(ctx, args[0], args[1]);
}

/* Leaks one handle on purpose: the negative control for the leak-detector tests. */
HPyDef_METH(leak, "leak", HPyFunc_O, .doc = "leak(obj): open a handle to obj and never close it")
static HPy leak_impl(HPyContext *ctx, HPy self, HPy obj)
{
    HPy_Dup(ctx, obj);
    return HPy_Dup(ctx, ctx->h_None);
}

HPyDef_METH(fail, "fail", HPyFunc_O, .doc = "fail(msg): raise ValueError(msg)")
static HPy fail_impl(HPyContext *ctx, HPy self, HPy msg)
{
    HPyErr_SetObject(ctx, ctx->h_ValueError, msg);
    return HPy_NULL;
}

#ifdef PROBE_EXEC_RAISES
/* A module whose own initialisation fails, with an exception of its own. */
HPyDef_SLOT(exec_raises, HPy_mod_exec)
static int exec_raises_impl(HPyContext *ctx, HPy module)
{
    (void)module;
    HPyErr_SetString(ctx, ctx->h_KeyError, "probe: raised by the module's own exec slot");
    return -1;
}
#define EXEC_RAISES &exec_raises,
#else
#define EXEC_RAISES
#endif

static HPyDef *module_defines[] = {EXEC_RAISES &context_name, &add, &leak, &fail, NULL};
static HPyModuleDef moduledef = {.doc = "hpybridge test probe", .defines = module_defines};

HPy_MODINIT(probe, moduledef)
