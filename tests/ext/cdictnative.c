/* cdictnative: entries set on the module's own __cdict__ (HPyBridge_CDictSet) for the native call
   path of CFunction on CPython (tests/test_cdict_native.py, docs/cdict.md §8): scalars of several
   kinds mixed with handles, narrow results, and providers that set an exception with any result. */
#include <stdbool.h>
#include <stdint.h>
#include <hpy.h>
#include "hpybridge.h"

static HPy dup_fail(HPyContext *ctx, HPy obj)
{
    HPyErr_SetString(ctx, ctx->h_ValueError, "dup_fail: an exception with a result");
    return HPy_Dup(ctx, obj);
}

static double scalar_fail(HPyContext *ctx, double x)
{
    HPyErr_SetString(ctx, ctx->h_ValueError, "scalar_fail: an exception with a result");
    return x;
}

static HPy null_handle(HPyContext *ctx, HPy obj)
{
    (void)ctx;
    (void)obj;
    return HPy_NULL;
}

static HPy pick(HPyContext *ctx, HPy a, HPy b, long which)
{
    return HPy_Dup(ctx, which ? b : a);
}

static double mix(HPyContext *ctx, double d, long l, bool b, float f, unsigned char u)
{
    (void)ctx;
    return d + (double)l * 10 + (b ? 100 : 0) + (double)f * 1000 + (double)u * 10000;
}

/* Served by object-call stubs on CPython's universal and trace runtimes (docs/cdict.md §8). */
static double halve(double x) { return x / 2; }
static double wsum2(double a, double b) { return a + 10 * b; }
static double answer(void) { return 42.0; }

static double ctx_wsum3(HPyContext *ctx, double a, double b, double c)
{
    if (a < 0) /* an exception with a result */
        HPyErr_SetString(ctx, ctx->h_ValueError, "ctx_wsum3: a is negative");
    return a + 10 * b + 100 * c;
}

/* a if x > 0, b if x < 0, NULL without an exception if x is 0, an exception with a if x is NaN. */
static HPy choose(HPyContext *ctx, HPy a, double x, HPy b)
{
    if (x != x) {
        HPyErr_SetString(ctx, ctx->h_ValueError, "choose: x is NaN");
        return HPy_Dup(ctx, a);
    }
    if (x == 0)
        return HPy_NULL;
    return HPy_Dup(ctx, x > 0 ? a : b);
}

static int8_t neg8(int8_t x) { return (int8_t)-x; }
static uint16_t inv16(uint16_t x) { return (uint16_t)~x; }
static bool not_(bool x) { return !x; }
static float halff(float x) { return x / 2; }
static void nothing(double x) { (void)x; }

HPyDef_SLOT(exec, HPy_mod_exec)
static int exec_impl(HPyContext *ctx, HPy module)
{
    static const struct {
        const char *name, *signature;
        void *function;
    } entries[] = {
        {"dup_fail", "HPy (HPyContext *, HPy)", (void *)dup_fail},
        {"scalar_fail", "double (HPyContext *, double)", (void *)scalar_fail},
        {"null_handle", "HPy (HPyContext *, HPy)", (void *)null_handle},
        {"pick", "HPy (HPyContext *, HPy, HPy, long)", (void *)pick},
        {"mix", "double (HPyContext *, double, long, bool, float, unsigned char)", (void *)mix},
        {"neg8", "int8_t (int8_t)", (void *)neg8},
        {"inv16", "uint16_t (uint16_t)", (void *)inv16},
        {"not_", "bool (bool)", (void *)not_},
        {"halff", "float (float)", (void *)halff},
        {"nothing", "void (double)", (void *)nothing},
        {"halve", "double (double)", (void *)halve},
        {"wsum2", "double (double, double)", (void *)wsum2},
        {"answer", "double (void)", (void *)answer},
        {"ctx_wsum3", "double (HPyContext *, double, double, double)", (void *)ctx_wsum3},
        {"choose", "HPy (HPyContext *, HPy, double, HPy)", (void *)choose},
    };
    for (size_t i = 0; i < sizeof(entries) / sizeof(entries[0]); i++)
        if (HPyBridge_CDictSet(ctx, module, entries[i].name, entries[i].signature, entries[i].function) < 0)
            return -1;
    return 0;
}

static HPyDef *module_defines[] = {&exec, NULL};
static HPyModuleDef moduledef = {.doc = "entries for the native call path's tests", .defines = module_defines};
HPy_MODINIT(cdictnative, moduledef)
