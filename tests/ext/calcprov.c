/* calcprov: provider of the calc test API (tests/ext/calc.toml). Built against headers generated
   from variants of that spec, to test what importers see; implements every slot any variant has. */
#include <math.h>
#include <hpy.h>
#include "calc_export.h"

HPy calc_add(HPyContext *ctx, HPy a, HPy b) { return HPy_Add(ctx, a, b); }

double calc_hypot(HPyContext *ctx, double x, double y) { (void)ctx; return sqrt(x * x + y * y); }

/* The same function under the name a spec variant gives slot 1 (tests renamed slots). */
double calc_norm2(HPyContext *ctx, double x, double y) { return calc_hypot(ctx, x, y); }

HPy calc_repeat(HPyContext *ctx, HPy seq, HPy_ssize_t n)
{
    HPy count = HPyLong_FromSsize_t(ctx, n);
    if (HPy_IsNull(count))
        return HPy_NULL;
    HPy result = HPy_Multiply(ctx, seq, count);
    HPy_Close(ctx, count);
    return result;
}

double calc_mix(HPyContext *ctx, long a, double b, int c, double d, long long e, float f,
                HPy_ssize_t g, double h, short i, double j)
{
    (void)ctx;
    return a + 2 * b + 3 * c + 4 * d + 5 * (double)e + 6 * f + 7 * (double)g + 8 * h + 9 * i + 10 * j;
}

long calc_fill(HPyContext *ctx, double *out, long n, double value)
{
    (void)ctx;
    for (long k = 0; k < n; k++)
        out[k] = value * (double)k;
    return n;
}

HPy calc_fail(HPyContext *ctx, HPy message)
{
    HPyErr_SetObject(ctx, ctx->h_ValueError, message);
    return HPy_NULL;
}

HPy calc_pick(HPyContext *ctx, HPy a, HPy b, HPy c, int which)
{
    HPy chosen = which == 0 ? a : which == 1 ? b : c;
    return HPy_Dup(ctx, chosen);
}

const char *calc_context_name(HPyContext *ctx) { return ctx->name; }

HPyDef_METH(context_name, "context_name", HPyFunc_NOARGS)
static HPy context_name_impl(HPyContext *ctx, HPy self)
{
    return HPyUnicode_FromString(ctx, ctx->name);
}

HPyDef_SLOT(exec, HPy_mod_exec)
static int exec_impl(HPyContext *ctx, HPy module)
{
    return export_calc(ctx, module);
}

static HPyDef *defines[] = {&context_name, &exec, NULL};
static HPyModuleDef moduledef = {.doc = "provider of the calc test API", .defines = defines};
HPy_MODINIT(calcprov, moduledef)

/* A slot without a context (spec variant "bare"): nothing to translate its handle with. */
HPy calc_bare(HPy h) { return h; }
