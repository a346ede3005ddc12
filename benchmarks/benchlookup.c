/* benchlookup: the cached C-level __cdict__ lookup plus call (docs/cdict.md §7), against a plain
   indirect call of the same function, in the same process (benchmarks/run.py, "lookup" section).
   Its type Thing has the entry inc, "double (HPyContext *, HPy, double)" (x + 1), registered with
   HPyBridge_CDictSet; the loops call it n times, chained: through a function pointer read from
   volatile memory (loop_direct), through HPyBridge_CDictLookup(ctx, obj, "inc", ...) before each
   call (loop_lookup, the runtime's cache), or through HPYBRIDGE_CDICT_LOOKUP before each call
   (loop_site, the call site's cache, inline), or through HPyBridge_CDictLookup with the strings on the
   stack (loop_uncached: the runtime's uncached path). benchmarks/run.py also loads a debug-mode copy, whose
   lookups the runtime's cache answers too (the call site's cache serves universal and trace only). The loops are noipa and aligned alike; under callgrind each switches
   collection on around itself and dumps after (benchcallgrind.h). */
#include <time.h>
#include <hpy.h>
#include "hpybridge.h"
#include "benchcallgrind.h"

#define NOIPA __attribute__((noipa, aligned(64)))
#define INC_SIG "double (HPyContext *, HPy, double)"
typedef double (*inc_fn)(HPyContext *, HPy, double);

typedef struct {
    double unused;
} ThingObject;
HPyType_HELPERS(ThingObject)

static HPyGlobal thing_type;

static double thing_inc(HPyContext *ctx, HPy self, double x)
{
    (void)ctx;
    (void)self;
    return x + 1.0;
}

static inc_fn volatile direct = thing_inc;

static NOIPA double benchlookup_loop_direct(HPyContext *ctx, HPy obj, long n)
{
    double x = 0.0;
    for (long i = 0; i < n; i++)
        x = direct(ctx, obj, x);
    return x;
}

static NOIPA double benchlookup_loop_lookup(HPyContext *ctx, HPy obj, long n)
{
    double x = 0.0;
    for (long i = 0; i < n; i++) {
        inc_fn f = (inc_fn)HPyBridge_CDictLookup(ctx, obj, "inc", INC_SIG);
        if (f == NULL)
            return -1.0;
        x = f(ctx, obj, x);
    }
    return x;
}

static NOIPA double benchlookup_loop_site(HPyContext *ctx, HPy obj, long n)
{
    double x = 0.0;
    for (long i = 0; i < n; i++) {
        inc_fn f = (inc_fn)HPYBRIDGE_CDICT_LOOKUP(ctx, obj, "inc", INC_SIG);
        if (f == NULL)
            return -1.0;
        x = f(ctx, obj, x);
    }
    return x;
}

/* The same lookups with the name and signature copied to the stack: the runtime caches only strings
   in read-only memory, so every lookup here takes its uncached path (what lookups cost uncached). */
static NOIPA double benchlookup_loop_uncached(HPyContext *ctx, HPy obj, long n)
{
    char name[] = "inc", sig[] = INC_SIG;
    double x = 0.0;
    for (long i = 0; i < n; i++) {
        inc_fn f = (inc_fn)HPyBridge_CDictLookup(ctx, obj, name, sig);
        if (f == NULL)
            return -1.0;
        x = f(ctx, obj, x);
    }
    return x;
}

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* time(which, obj, n): runs loop `which` (0 direct, 1 lookup, 2 site, 3 uncached) n times and returns its
   nanoseconds. */
HPyDef_METH(time_, "time", HPyFunc_VARARGS)
static HPy time__impl(HPyContext *ctx, HPy self, const HPy *args, size_t nargs)
{
    (void)self;
    int which;
    HPy obj;
    long n;
    if (!HPyArg_Parse(ctx, NULL, args, nargs, "iOl", &which, &obj, &n))
        return HPy_NULL;
    double x, t0 = now_ns();
    CALLGRIND_TOGGLE_COLLECT;
    x = which == 3   ? benchlookup_loop_uncached(ctx, obj, n)
        : which == 2 ? benchlookup_loop_site(ctx, obj, n)
        : which      ? benchlookup_loop_lookup(ctx, obj, n)
                     : benchlookup_loop_direct(ctx, obj, n);
    CALLGRIND_TOGGLE_COLLECT;
    double t = now_ns() - t0;
    if (which == 3)
        CALLGRIND_DUMP_STATS_AT("benchlookup_loop_uncached");
    else if (which == 2)
        CALLGRIND_DUMP_STATS_AT("benchlookup_loop_site");
    else if (which)
        CALLGRIND_DUMP_STATS_AT("benchlookup_loop_lookup");
    else
        CALLGRIND_DUMP_STATS_AT("benchlookup_loop_direct");
    if (x != (double)n) {
        HPyErr_SetString(ctx, ctx->h_RuntimeError, "the loop's calls did not all work");
        return HPy_NULL;
    }
    return HPyFloat_FromDouble(ctx, t);
}

HPyDef_METH(make, "make", HPyFunc_NOARGS)
static HPy make_impl(HPyContext *ctx, HPy self)
{
    (void)self;
    HPy type = HPyGlobal_Load(ctx, thing_type);
    ThingObject *p;
    HPy h = HPy_New(ctx, type, &p);
    HPy_Close(ctx, type);
    return h;
}

HPyDef_METH(callgrind_support, "callgrind_support", HPyFunc_NOARGS)
static HPy callgrind_support_impl(HPyContext *ctx, HPy self)
{
    (void)self;
    return HPyBool_FromLong(ctx, BENCH_CALLGRIND);
}

static HPyDef *thing_defines[] = {NULL};
static HPyType_Spec thing_spec = {
    .name = "benchlookup.Thing",
    .basicsize = sizeof(ThingObject),
    .builtin_shape = ThingObject_SHAPE,
    .defines = thing_defines,
};

HPyDef_SLOT(exec, HPy_mod_exec)
static int exec_impl(HPyContext *ctx, HPy module)
{
    HPy type = HPyType_FromSpec(ctx, &thing_spec, NULL);
    if (HPy_IsNull(type))
        return -1;
    HPyGlobal_Store(ctx, &thing_type, type);
    int rc = HPy_SetAttr_s(ctx, module, "Thing", type);
    if (rc == 0)
        rc = HPyBridge_CDictSet(ctx, type, "inc", INC_SIG, (void *)thing_inc);
    HPy_Close(ctx, type);
    return rc;
}

static HPyDef *module_defines[] = {&time_, &make, &callgrind_support, &exec, NULL};
static HPyGlobal *module_globals[] = {&thing_type, NULL};
static HPyModuleDef moduledef = {.doc = "the cached __cdict__ lookup benchmark", .defines = module_defines,
                                 .globals = module_globals};
HPy_MODINIT(benchlookup, moduledef)
