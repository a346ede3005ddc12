/* benchcdprov: provider of the benchcd API (benchmarks/benchcd.toml), whose __cdict__ entries
   cdictbench.py calls from Python. `addresses()` gives cosine's address, which ctypes and cffi call. */
#include <math.h>
#include <stdint.h>
#include <hpy.h>
#include "benchcd_export.h"

double benchcd_cosine(double x) { return cos(x); }

double benchcd_ctx_cosine(HPyContext *ctx, double x) { (void)ctx; return cos(x); }

HPy benchcd_same(HPyContext *ctx, HPy x) { return HPy_Dup(ctx, x); }

long benchcd_negate(long x) { return -x; }

int benchcd_add(int a, int b) { return a + b; }

HPyDef_METH(benchcdprov_meth_addresses, "addresses", HPyFunc_NOARGS)
static HPy benchcdprov_meth_addresses_impl(HPyContext *ctx, HPy self)
{
    (void)self;
    return HPy_BuildValue(ctx, "(n)", (HPy_ssize_t)(intptr_t)benchcd_cosine);
}

HPyDef_SLOT(benchcdprov_exec, HPy_mod_exec)
static int benchcdprov_exec_impl(HPyContext *ctx, HPy module)
{
    return export_benchcd(ctx, module);
}

static HPyDef *defines[] = {&benchcdprov_meth_addresses, &benchcdprov_exec, NULL};
static HPyModuleDef moduledef = {.doc = "provider of the benchcd API", .defines = defines};
HPy_MODINIT(benchcdprov, moduledef)
