/* benchfcons: the HPy consumer of the foreign-table benchmark (benchmarks/run.py, "Foreign C-API
 * tables"): calls benchforeign's ident and inc through the table import_bf(ctx) gives it (generated
 * from benchforeign.toml), in a C loop like benchforeign's own, in whatever HPy mode it is loaded. */
#include <time.h>
#include <string.h>
#include <hpy.h>
#include "bf_foreign.h"

static const bf_Foreign *bf;
static double sink;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* time(fn, obj, n): ns of n calls of fn ("ident", each result closed, or "inc"). */
HPyDef_METH(time_meth, "time", HPyFunc_VARARGS)
static HPy time_meth_impl(HPyContext *ctx, HPy self, const HPy *args, size_t nargs)
{
    const char *fn;
    HPy obj;
    long n;
    if (!HPyArg_Parse(ctx, NULL, args, nargs, "sOl", &fn, &obj, &n))
        return HPy_NULL;
    const bf_Foreign *volatile t = bf;
    double start = now(), s = 0;
    if (strcmp(fn, "ident") == 0) {
        for (long i = 0; i < n; i++) {
            HPy r = t->ident(ctx, obj);
            if (HPy_IsNull(r))
                return HPy_NULL;
            HPy_Close(ctx, r);
        }
    } else {
        for (long i = 0; i < n; i++)
            s += t->inc(ctx, (double)i);
    }
    double ns = now() - start;
    sink = s;
    return HPyFloat_FromDouble(ctx, ns);
}

HPyDef_METH(context_name_meth, "context_name", HPyFunc_NOARGS)
static HPy context_name_meth_impl(HPyContext *ctx, HPy self)
{
    return HPyUnicode_FromString(ctx, ctx->name);
}

HPyDef_SLOT(exec, HPy_mod_exec)
static int exec_impl(HPyContext *ctx, HPy module)
{
    bf = import_bf(ctx);
    return bf == NULL ? -1 : 0;
}

static HPyDef *defines[] = {&time_meth, &context_name_meth, &exec, NULL};
static HPyModuleDef def = {.doc = "HPy consumer of a foreign table, for make bench", .defines = defines};
HPy_MODINIT(benchfcons, def)
