/* benchprov: provider of the bench API (benchmarks/bench.toml), and the baseline: its time_*
   methods call its own functions through a table of its own, read through a volatile pointer so
   that the compiler can neither inline the calls nor see which function they reach. */
#include <stdint.h>
#include <hpy.h>
#include "bench_export.h"
#include "bench_api.h"

__attribute__((aligned(64))) HPy bench_ident(HPyContext *ctx, HPy x) { return HPy_Dup(ctx, x); }

__attribute__((aligned(64))) double bench_inc(HPyContext *ctx, double x) { (void)ctx; return x + 1.0; }

/* Scalars beside a handle; benchcapi.c has its C-API twin. */
__attribute__((aligned(64))) HPy bench_mix(HPyContext *ctx, HPy x, double y, long n)
{
    return HPy_Dup(ctx, y + (double)n >= 0.0 ? x : ctx->h_None);
}

static const bench_API own = {bench_ident, bench_inc, bench_mix};
static const bench_API *volatile own_table = &own;

static const bench_API *bench_table(HPyContext *ctx) { (void)ctx; return own_table; }

#define BENCH_PREFIX benchprov
#include "benchloop.h"

/* The addresses of the API's functions, so run.py can tell whether a consumer's table holds them
   (same family) or other code (stubs, trampolines). */
HPyDef_METH(benchprov_meth_functions, "functions", HPyFunc_NOARGS)
static HPy benchprov_meth_functions_impl(HPyContext *ctx, HPy self)
{
    return HPy_BuildValue(ctx, "(nnn)", (HPy_ssize_t)(intptr_t)bench_ident, (HPy_ssize_t)(intptr_t)bench_inc,
                          (HPy_ssize_t)(intptr_t)bench_mix);
}

HPyDef_SLOT(benchprov_exec, HPy_mod_exec)
static int benchprov_exec_impl(HPyContext *ctx, HPy module)
{
    return export_bench(ctx, module);
}

static HPyDef *defines[] = {BENCH_DEFINES, &benchprov_meth_functions, &benchprov_exec, NULL};
static HPyModuleDef moduledef = {.doc = "provider of the bench API; baseline loops", .defines = defines};
HPy_MODINIT(benchprov, moduledef)
