/* benchcons: consumer of the bench API (benchmarks/bench.toml). connect() imports it; the time_*
   methods call the provider through the table import_bench returned, from this module's context. */
#include <hpy.h>
#include "bench_api.h"

static const bench_API *bench;

static const bench_API *bench_table(HPyContext *ctx)
{
    if (bench == NULL)
        HPyErr_SetString(ctx, ctx->h_RuntimeError, "benchcons: call connect() first");
    return bench;
}

#define BENCH_PREFIX benchcons
#include "benchloop.h"

/* Not `connect`: HPyDef_METH defines a global of that name, which libc's connect() would interpose. */
HPyDef_METH(benchcons_connect, "connect", HPyFunc_NOARGS)
static HPy benchcons_connect_impl(HPyContext *ctx, HPy self)
{
    bench = import_bench(ctx);
    if (bench == NULL)
        return HPy_NULL;
    return HPy_Dup(ctx, ctx->h_None);
}

static HPyDef *defines[] = {BENCH_DEFINES, &benchcons_connect, NULL};
static HPyModuleDef moduledef = {.doc = "consumer of the bench API", .defines = defines};
HPy_MODINIT(benchcons, moduledef)
