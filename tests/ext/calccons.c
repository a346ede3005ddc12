/* calccons: consumer of the calc test API. `connect()` imports it (so tests see the exception
   import raises); the other methods call through the table with this module's own context.
   Built with CALCCONS_IMPORT_IN_EXEC, it imports in its exec slot, as NumPy-style consumers do:
   a failed import then fails the module's initialisation. */
#include <hpy.h>
#include "calc_api.h"

static const calc_API *calc;

#define NEED_CALC                                                                      \
    if (calc == NULL) {                                                                \
        HPyErr_SetString(ctx, ctx->h_RuntimeError, "calccons: call connect() first");  \
        return HPy_NULL;                                                               \
    }

/* Not `connect`: HPyDef_METH defines a global of that name, which libc's connect() would interpose. */
HPyDef_METH(connect_meth, "connect", HPyFunc_NOARGS, .doc = "import_calc(ctx): the import under test")
static HPy connect_meth_impl(HPyContext *ctx, HPy self)
{
    calc = import_calc(ctx);
    if (calc == NULL)
        return HPy_NULL;
    return HPy_Dup(ctx, ctx->h_None);
}

HPyDef_METH(add, "add", HPyFunc_VARARGS)
static HPy add_impl(HPyContext *ctx, HPy self, const HPy *args, size_t n)
{
    NEED_CALC
    if (n != 2) {
        HPyErr_SetString(ctx, ctx->h_TypeError, "add(a, b)");
        return HPy_NULL;
    }
    return calc->add(ctx, args[0], args[1]);
}

HPyDef_METH(hypot_meth, "hypot", HPyFunc_VARARGS)
static HPy hypot_meth_impl(HPyContext *ctx, HPy self, const HPy *args, size_t n)
{
    double x, y;
    NEED_CALC
    if (!HPyArg_Parse(ctx, NULL, args, n, "dd", &x, &y))
        return HPy_NULL;
    return HPyFloat_FromDouble(ctx, calc->hypot(ctx, x, y));
}

HPyDef_METH(repeat, "repeat", HPyFunc_VARARGS)
static HPy repeat_impl(HPyContext *ctx, HPy self, const HPy *args, size_t n)
{
    HPy seq;
    HPy_ssize_t count;
    NEED_CALC
    if (!HPyArg_Parse(ctx, NULL, args, n, "On", &seq, &count))
        return HPy_NULL;
    return calc->repeat(ctx, seq, count);
}

#if CALC_API_MINOR_NEEDED >= 1
HPyDef_METH(mix, "mix", HPyFunc_VARARGS)
static HPy mix_impl(HPyContext *ctx, HPy self, const HPy *args, size_t n)
{
    long a, e;
    double b, d, h, j, f;
    int c, i;
    HPy_ssize_t g;
    NEED_CALC
    if (!HPyArg_Parse(ctx, NULL, args, n, "ldidldndid", &a, &b, &c, &d, &e, &f, &g, &h, &i, &j))
        return HPy_NULL;
    return HPyFloat_FromDouble(ctx, calc->mix(ctx, a, b, c, d, (long long)e, (float)f, g, h, (short)i, j));
}

HPyDef_METH(fill, "fill", HPyFunc_VARARGS)
static HPy fill_impl(HPyContext *ctx, HPy self, const HPy *args, size_t n)
{
    double out[16], value;
    long count;
    NEED_CALC
    if (!HPyArg_Parse(ctx, NULL, args, n, "ld", &count, &value))
        return HPy_NULL;
    if (count < 0 || count > 16) {
        HPyErr_SetString(ctx, ctx->h_ValueError, "fill(n, value): 0 <= n <= 16");
        return HPy_NULL;
    }
    long written = calc->fill(ctx, out, count, value);
    HPyListBuilder lb = HPyListBuilder_New(ctx, written);
    for (long k = 0; k < written; k++) {
        HPy item = HPyFloat_FromDouble(ctx, out[k]);
        HPyListBuilder_Set(ctx, lb, k, item);
        HPy_Close(ctx, item);
    }
    return HPyListBuilder_Build(ctx, lb);
}
#endif

#if CALC_API_MINOR_NEEDED >= 2
HPyDef_METH(fail, "fail", HPyFunc_O)
static HPy fail_impl(HPyContext *ctx, HPy self, HPy message)
{
    NEED_CALC
    return calc->fail(ctx, message);
}

HPyDef_METH(pick, "pick", HPyFunc_VARARGS)
static HPy pick_impl(HPyContext *ctx, HPy self, const HPy *args, size_t n)
{
    HPy a, b, c;
    int which;
    NEED_CALC
    if (!HPyArg_Parse(ctx, NULL, args, n, "OOOi", &a, &b, &c, &which))
        return HPy_NULL;
    return calc->pick(ctx, a, b, c, which);
}

HPyDef_METH(provider_context, "provider_context", HPyFunc_NOARGS,
            .doc = "The name of the context the provider saw when called through the table.")
static HPy provider_context_impl(HPyContext *ctx, HPy self)
{
    NEED_CALC
    return HPyUnicode_FromString(ctx, calc->context_name(ctx));
}
#endif

HPyDef_METH(context_name, "context_name", HPyFunc_NOARGS)
static HPy context_name_impl(HPyContext *ctx, HPy self)
{
    return HPyUnicode_FromString(ctx, ctx->name);
}

#ifdef CALCCONS_IMPORT_IN_EXEC
HPyDef_SLOT(import_in_exec, HPy_mod_exec)
static int import_in_exec_impl(HPyContext *ctx, HPy module)
{
    (void)module;
    calc = import_calc(ctx);
    return calc == NULL ? -1 : 0;
}
#endif

static HPyDef *defines[] = {
#ifdef CALCCONS_IMPORT_IN_EXEC
    &import_in_exec,
#endif
    &connect_meth, &add, &hypot_meth, &repeat, &context_name,
#if CALC_API_MINOR_NEEDED >= 1
    &mix, &fill,
#endif
#if CALC_API_MINOR_NEEDED >= 2
    &fail, &pick, &provider_context,
#endif
    NULL};
static HPyModuleDef moduledef = {.doc = "consumer of the calc test API", .defines = defines};
HPy_MODINIT(calccons, moduledef)
