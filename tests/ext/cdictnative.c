/* cdictnative: entries set on the module's own __cdict__ (HPyBridge_CDictSet) for the native call
   path of CFunction on CPython (tests/test_cdict_native.py, docs/cdict.md §8): scalars of several
   kinds mixed with handles, narrow results, and providers that set an exception with any result;
   integers of every width, bools and void for the object-call stubs. */
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

/* Integers, bools and void: object-call stubs on CPython's universal and trace runtimes too. */
static int8_t id_i8(int8_t x) { return x; }
static uint8_t id_u8(uint8_t x) { return x; }
static int16_t id_i16(int16_t x) { return x; }
static uint16_t id_u16(uint16_t x) { return x; }
static int32_t id_i32(int32_t x) { return x; }
static uint32_t id_u32(uint32_t x) { return x; }
static int64_t id_i64(int64_t x) { return x; }
static uint64_t id_u64(uint64_t x) { return x; }

/* Conversions to narrower types: the compiler may leave the argument's bits above the result's
   width in rax (the ABI leaves them undefined), which the caller must not read. */
static int8_t to_i8(int64_t x) { return (int8_t)x; }
static uint8_t to_u8(int64_t x) { return (uint8_t)x; }
static int16_t to_i16(int64_t x) { return (int16_t)x; }
static uint16_t to_u16(int64_t x) { return (uint16_t)x; }
static int32_t to_i32(int64_t x) { return (int32_t)x; }
static uint32_t to_u32(int64_t x) { return (uint32_t)x; }

static int iadd(int a, int b) { return (int)((unsigned)a + (unsigned)b); }

static int ctx_div(HPyContext *ctx, int a, int b)
{
    if (b == 0) { /* an exception with a result */
        HPyErr_SetString(ctx, ctx->h_ZeroDivisionError, "ctx_div: b is 0");
        return -1;
    }
    return b == -1 ? (int)(0u - (unsigned)a) : a / b;
}

static bool band(bool a, bool b) { return a && b; }
static bool is_neg(long x) { return x < 0; }

static long stored;
static void put(HPyContext *ctx, long x)
{
    if (x < 0) /* an exception with no result */
        HPyErr_SetString(ctx, ctx->h_ValueError, "put: x is negative");
    stored = x;
}
static long get(void) { return stored; }

static int64_t imix(HPyContext *ctx, int8_t a, double x, bool b, uint32_t u, HPy o)
{
    return a + (int64_t)(x * 10) + (b ? 100 : 0) + (int64_t)u * 1000 + (HPy_Is(ctx, o, ctx->h_None) ? 7 : 0);
}

static long sum6(long a, long b, long c, long d, long e, long f) { return a + b + c + d + e + f; }
static long sum5(long a, long b, long c, long d, long e) { return sum6(a, b, c, d, e, 0); }
static long ctx_sum5(HPyContext *ctx, long a, long b, long c, long d, long e)
{
    (void)ctx;
    return sum6(a, b, c, d, e, 0);
}
static long ctx_sum6(HPyContext *ctx, long a, long b, long c, long d, long e, long f)
{
    (void)ctx;
    return sum6(a, b, c, d, e, f);
}

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
        {"id_i8", "int8_t (int8_t)", (void *)id_i8},
        {"id_u8", "uint8_t (uint8_t)", (void *)id_u8},
        {"id_i16", "int16_t (int16_t)", (void *)id_i16},
        {"id_u16", "uint16_t (uint16_t)", (void *)id_u16},
        {"id_i32", "int32_t (int32_t)", (void *)id_i32},
        {"id_u32", "uint32_t (uint32_t)", (void *)id_u32},
        {"id_i64", "int64_t (int64_t)", (void *)id_i64},
        {"id_u64", "uint64_t (uint64_t)", (void *)id_u64},
        {"id_schar", "signed char (signed char)", (void *)id_i8},
        {"id_char", "char (char)", (void *)id_i8},
        {"id_uchar", "unsigned char (unsigned char)", (void *)id_u8},
        {"id_short", "short (short)", (void *)id_i16},
        {"id_ushort", "unsigned short (unsigned short)", (void *)id_u16},
        {"id_int", "int (int)", (void *)id_i32},
        {"id_uint", "unsigned int (unsigned int)", (void *)id_u32},
        {"id_long", "long (long)", (void *)id_i64},
        {"id_ulong", "unsigned long (unsigned long)", (void *)id_u64},
        {"id_llong", "long long (long long)", (void *)id_i64},
        {"id_ullong", "unsigned long long (unsigned long long)", (void *)id_u64},
        {"id_ssize", "Py_ssize_t (Py_ssize_t)", (void *)id_i64},
        {"id_hssize", "HPy_ssize_t (HPy_ssize_t)", (void *)id_i64},
        {"id_size", "size_t (size_t)", (void *)id_u64},
        {"id_intptr", "intptr_t (intptr_t)", (void *)id_i64},
        {"id_uintptr", "uintptr_t (uintptr_t)", (void *)id_u64},
        {"to_i8", "int8_t (int64_t)", (void *)to_i8},
        {"to_u8", "uint8_t (int64_t)", (void *)to_u8},
        {"to_i16", "int16_t (int64_t)", (void *)to_i16},
        {"to_u16", "uint16_t (int64_t)", (void *)to_u16},
        {"to_i32", "int32_t (int64_t)", (void *)to_i32},
        {"to_u32", "uint32_t (int64_t)", (void *)to_u32},
        {"iadd", "int (int, int)", (void *)iadd},
        {"ctx_div", "int (HPyContext *, int, int)", (void *)ctx_div},
        {"band", "bool (bool, bool)", (void *)band},
        {"is_neg", "bool (long)", (void *)is_neg},
        {"put", "void (HPyContext *, long)", (void *)put},
        {"get", "long (void)", (void *)get},
        {"imix", "int64_t (HPyContext *, int8_t, double, bool, uint32_t, HPy)", (void *)imix},
        {"sum6", "long (long, long, long, long, long, long)", (void *)sum6},
        {"sum5", "long (long, long, long, long, long)", (void *)sum5},
        {"ctx_sum5", "long (HPyContext *, long, long, long, long, long)", (void *)ctx_sum5},
        {"ctx_sum6", "long (HPyContext *, long, long, long, long, long, long)", (void *)ctx_sum6},
    };
    for (size_t i = 0; i < sizeof(entries) / sizeof(entries[0]); i++)
        if (HPyBridge_CDictSet(ctx, module, entries[i].name, entries[i].signature, entries[i].function) < 0)
            return -1;
    return 0;
}

static HPyDef *module_defines[] = {&exec, NULL};
static HPyModuleDef moduledef = {.doc = "entries for the native call path's tests", .defines = module_defines};
HPy_MODINIT(cdictnative, moduledef)
