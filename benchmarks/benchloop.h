/* The measured loops, shared by benchprov.c (the baseline: the provider calls its own functions)
   and benchcons.c (the consumer calls them through the table import_bench gave it), so that both
   sides run the very same machine code around the call.

   Before including this file, define BENCH_PREFIX (benchprov or benchcons) and
   `static const bench_API *bench_table(HPyContext *ctx)`: every function here is named
   <prefix>_<name>, so that no symbol is shared between the two modules and callgrind's profile
   tells them apart.

   The loop functions are `noipa`: never inlined, cloned or merged (identical code folding), and
   the compiler cannot assume anything about the table they get, so every call is an indirect call
   through a pointer loaded from memory, in both modules alike. They are aligned alike too.

   Under callgrind (benchmarks/run.py runs it with --collect-atstart=no), the time_* methods switch
   collection on around their loop with a client request and dump the profile right after it,
   named after the loop: each dump holds one loop and nothing else. Client requests rather than
   --toggle-collect=<loop> with --dump-after=<loop>: valgrind 3.19 collects nothing when both name
   the loops, and toggling on function entry and exit relies on callgrind's shadow call stack,
   which libffi's ffi_call misleads. Outside valgrind a client request is a few no-op
   instructions, outside the loop. */
#include <time.h>

#include "benchcallgrind.h"

#define BENCH_CAT2(a, b) a##_##b
#define BENCH_CAT(a, b) BENCH_CAT2(a, b)
#define BENCH_NAME(name) BENCH_CAT(BENCH_PREFIX, name)
#define BENCH_STR2(x) #x
#define BENCH_STR(x) BENCH_STR2(x)
#define BENCH_NOIPA __attribute__((noipa, aligned(64)))

/* HPy_Close behind a symbol of its own, so callgrind can tell the close's cost (which depends on
   the caller's mode) from the call path's. Both sides pay this extra call alike. */
static BENCH_NOIPA void BENCH_NAME(close)(HPyContext *ctx, HPy h) { HPy_Close(ctx, h); }

/* n calls of api->ident(ctx, h), closing each result; returns how many succeeded. */
static BENCH_NOIPA long BENCH_NAME(loop_ident)(const bench_API *api, HPyContext *ctx, HPy h, long n)
{
    for (long i = 0; i < n; i++) {
        HPy r = api->ident(ctx, h);
        if (HPy_IsNull(r))
            return i;
        BENCH_NAME(close)(ctx, r);
    }
    return n;
}

/* n chained calls x = api->inc(ctx, x) from 0: returns n when every call worked. */
static BENCH_NOIPA double BENCH_NAME(loop_inc)(const bench_API *api, HPyContext *ctx, long n)
{
    double x = 0.0;
    for (long i = 0; i < n; i++)
        x = api->inc(ctx, x);
    return x;
}

static double bench_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* The methods both modules expose (SYM names <prefix>_meth_*: HPyDef_METH makes them globals).
   time_ident(obj, n) and time_inc(n) run the loop, counted by callgrind, and return the
   nanoseconds it took; warm_ident(obj, n) and warm_inc(n) run it uncounted (warm-up: one-time
   costs, such as debug mode's first handle allocations, stay out of the counts) and return None.
   callgrind_support() tells whether this module was built with callgrind's client requests. */
#define BENCH_METH(SYM, ...) HPyDef_METH(SYM, __VA_ARGS__)

static int bench_args(HPyContext *ctx, const HPy *args, size_t nargs, int with_obj, HPy *obj, long *n)
{
    if (with_obj ? !HPyArg_Parse(ctx, NULL, args, nargs, "Ol", obj, n) : !HPyArg_Parse(ctx, NULL, args, nargs, "l", n))
        return 0;
    if (*n < 0) {
        HPyErr_SetString(ctx, ctx->h_ValueError, "n must be >= 0");
        return 0;
    }
    return bench_table(ctx) != NULL;
}

static HPy bench_check(HPyContext *ctx, int ok, double ns)
{
    if (!ok) {
        if (!HPyErr_Occurred(ctx))
            HPyErr_SetString(ctx, ctx->h_RuntimeError, "a call through the bench table failed");
        return HPy_NULL;
    }
    return ns < 0 ? HPy_Dup(ctx, ctx->h_None) : HPyFloat_FromDouble(ctx, ns);
}

BENCH_METH(BENCH_NAME(meth_time_ident), "time_ident", HPyFunc_VARARGS)
static HPy BENCH_NAME(meth_time_ident_impl)(HPyContext *ctx, HPy self, const HPy *args, size_t nargs)
{
    HPy obj;
    long n;
    if (!bench_args(ctx, args, nargs, 1, &obj, &n))
        return HPy_NULL;
    const bench_API *api = bench_table(ctx);
    double t0 = bench_now_ns();
    CALLGRIND_TOGGLE_COLLECT;
    long done = BENCH_NAME(loop_ident)(api, ctx, obj, n);
    CALLGRIND_TOGGLE_COLLECT;
    double t1 = bench_now_ns();
    CALLGRIND_DUMP_STATS_AT(BENCH_STR(BENCH_NAME(loop_ident)));
    return bench_check(ctx, done == n, t1 - t0);
}

BENCH_METH(BENCH_NAME(meth_warm_ident), "warm_ident", HPyFunc_VARARGS)
static HPy BENCH_NAME(meth_warm_ident_impl)(HPyContext *ctx, HPy self, const HPy *args, size_t nargs)
{
    HPy obj;
    long n;
    if (!bench_args(ctx, args, nargs, 1, &obj, &n))
        return HPy_NULL;
    return bench_check(ctx, BENCH_NAME(loop_ident)(bench_table(ctx), ctx, obj, n) == n, -1);
}

BENCH_METH(BENCH_NAME(meth_time_inc), "time_inc", HPyFunc_VARARGS)
static HPy BENCH_NAME(meth_time_inc_impl)(HPyContext *ctx, HPy self, const HPy *args, size_t nargs)
{
    long n;
    if (!bench_args(ctx, args, nargs, 0, NULL, &n))
        return HPy_NULL;
    const bench_API *api = bench_table(ctx);
    double t0 = bench_now_ns();
    CALLGRIND_TOGGLE_COLLECT;
    double x = BENCH_NAME(loop_inc)(api, ctx, n);
    CALLGRIND_TOGGLE_COLLECT;
    double t1 = bench_now_ns();
    CALLGRIND_DUMP_STATS_AT(BENCH_STR(BENCH_NAME(loop_inc)));
    return bench_check(ctx, x == (double)n, t1 - t0);
}

BENCH_METH(BENCH_NAME(meth_warm_inc), "warm_inc", HPyFunc_VARARGS)
static HPy BENCH_NAME(meth_warm_inc_impl)(HPyContext *ctx, HPy self, const HPy *args, size_t nargs)
{
    long n;
    if (!bench_args(ctx, args, nargs, 0, NULL, &n))
        return HPy_NULL;
    return bench_check(ctx, BENCH_NAME(loop_inc)(bench_table(ctx), ctx, n) == (double)n, -1);
}

BENCH_METH(BENCH_NAME(meth_context_name), "context_name", HPyFunc_NOARGS)
static HPy BENCH_NAME(meth_context_name_impl)(HPyContext *ctx, HPy self)
{
    return HPyUnicode_FromString(ctx, ctx->name);
}

BENCH_METH(BENCH_NAME(meth_callgrind_support), "callgrind_support", HPyFunc_NOARGS)
static HPy BENCH_NAME(meth_callgrind_support_impl)(HPyContext *ctx, HPy self)
{
    return HPyBool_FromLong(ctx, BENCH_CALLGRIND);
}

#define BENCH_DEFINES &BENCH_NAME(meth_time_ident), &BENCH_NAME(meth_warm_ident), &BENCH_NAME(meth_time_inc), \
    &BENCH_NAME(meth_warm_inc), &BENCH_NAME(meth_context_name), &BENCH_NAME(meth_callgrind_support)
