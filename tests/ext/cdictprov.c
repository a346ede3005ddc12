/* cdictprov: provider of the cdt test API (tests/ext/cdict.toml), which tests/test_cdict.py calls
   through the module's __cdict__: every C type the marshaller knows. */
#include <ctype.h>
#include <math.h>
#include <string.h>
#include <time.h>
#include <hpy.h>
#include "cdt_export.h"

#define ECHO(name, type) type cdt_echo_##name(type v) { return v; }
ECHO(i8, int8_t)
ECHO(u8, uint8_t)
ECHO(i16, int16_t)
ECHO(u16, uint16_t)
ECHO(i32, int32_t)
ECHO(u32, uint32_t)
ECHO(i64, int64_t)
ECHO(u64, uint64_t)
ECHO(schar, signed char)
ECHO(uchar, unsigned char)
ECHO(char_, char)
ECHO(short_, short)
ECHO(ushort, unsigned short)
ECHO(int_, int)
ECHO(uint, unsigned int)
ECHO(long_, long)
ECHO(ulong, unsigned long)
ECHO(llong, long long)
ECHO(ullong, unsigned long long)
ECHO(size, size_t)
ECHO(ssize, ssize_t)
ECHO(hpy_ssize, HPy_ssize_t)
ECHO(intptr, intptr_t)
ECHO(uintptr, uintptr_t)
ECHO(ucs4, HPy_UCS4)

unsigned short cdt_echo_ctx_u16(HPyContext *ctx, unsigned short v) { (void)ctx; return v; }

bool cdt_negate(bool b) { return !b; }

float cdt_half(HPyContext *ctx, float x) { (void)ctx; return x / 2; }

double cdt_root(HPyContext *ctx, double x)
{
    if (x < 0) {
        HPyErr_SetString(ctx, ctx->h_ValueError, "root of a negative number");
        return -1.0;
    }
    return sqrt(x);
}

double cdt_cosine(double x) { return cos(x); }

HPy cdt_same(HPyContext *ctx, HPy obj) { return HPy_Dup(ctx, obj); }

HPy cdt_fail(HPyContext *ctx, HPy message)
{
    HPyErr_SetObject(ctx, ctx->h_ValueError, message);
    return HPy_NULL;
}

HPy cdt_null(HPyContext *ctx) { (void)ctx; return HPy_NULL; }

const char *cdt_context_name(HPyContext *ctx) { return ctx->name; }

size_t cdt_length(HPyContext *ctx, const char *text) { (void)ctx; return text ? strlen(text) : 0; }

char *cdt_upper(char *text)
{
    for (char *c = text; c && *c; c++)
        *c = (char)toupper((unsigned char)*c);
    return text;
}

#define SUM(name, type, result) \
    result cdt_##name(const type *x, long n) { result s = 0; for (long k = 0; k < n; k++) s += x[k]; return s; }
SUM(sum, double, double)
SUM(sum_i32, int32_t, long long)
SUM(sum_long, long, long long)
SUM(sum_u8, unsigned char, unsigned long)
SUM(sum_float, float, double)
SUM(count_true, bool, long)

void cdt_fill(HPyContext *ctx, double *out, long n, double value)
{
    (void)ctx;
    for (long k = 0; k < n; k++)
        out[k] = value;
}

uintptr_t cdt_address(const void *p) { return (uintptr_t)p; }

void cdt_poke(void *p, unsigned char value)
{
    if (p)
        *(unsigned char *)p = value;
}

void *cdt_pass_through(void *p) { return p; }

HPy cdt_pair(HPyContext *ctx, HPy a, double x, HPy b)
{
    HPy f = HPyFloat_FromDouble(ctx, x);
    if (HPy_IsNull(f))
        return HPy_NULL;
    HPy items[] = {a, f, b};
    HPy t = HPyTuple_FromArray(ctx, items, 3);
    HPy_Close(ctx, f);
    return t;
}

void cdt_nested(double **p) { (void)p; }

HPy cdt_call(HPyContext *ctx, HPy f, HPy arg)
{
    HPy args = HPyTuple_FromArray(ctx, &arg, 1);
    if (HPy_IsNull(args))
        return HPy_NULL;
    /* HPy_CallTupleDict is past the point where PyPy 7.3.19's context layout departs from HPy 0.9.0's. */
    HPy result = HPYBRIDGE_CTX_MEMBER(ctx, ctx_CallTupleDict)(ctx, f, args, HPy_NULL);
    HPy_Close(ctx, args);
    if (HPy_IsNull(result))
        return HPy_NULL;
    /* The context is used again after the call-out (debug mode aborts if it is not valid any more). */
    HPy again = HPy_Dup(ctx, result);
    HPy_Close(ctx, result);
    return again;
}

/* scipy.ndimage.generic_filter's callback: the window's mean; `user_data` null or a double to add. */
int cdt_mean_filter(double *buffer, intptr_t n, double *out, void *user_data)
{
    double sum = 0.0;
    for (intptr_t i = 0; i < n; i++)
        sum += buffer[i];
    *out = sum / (double)n + (user_data ? *(double *)user_data : 0.0);
    return 1;
}

int cdt_ctx_mean_filter(HPyContext *ctx, double *buffer, intptr_t n, double *out, void *user_data)
{
    HPy none = HPy_Dup(ctx, ctx->h_None); /* uses the context: it must be valid here */
    HPy_Close(ctx, none);
    return cdt_mean_filter(buffer, n, out, user_data);
}

HPy_ssize_t cdt_count_handles(HPyContext *ctx, HPy *items, HPy_ssize_t n)
{
    (void)ctx;
    (void)items;
    return n;
}

/* Sets state[0], then polls state[1] every 100 us: another Python thread sets it, which it can only
   do while this one does not hold the GIL. */
int cdt_wait_flag(int *state, double seconds)
{
    volatile int *f = state;
    struct timespec pause = {0, 100000};
    f[0] = 1;
    for (long i = 0; i < (long)(seconds * 10000); i++) {
        if (f[1])
            return 1;
        nanosleep(&pause, NULL);
    }
    return f[1] != 0;
}

int cdt_wait_flag_gil(int *state, double seconds)
{
    return cdt_wait_flag(state, seconds);
}

double cdt_twice(double x)
{
    return 2 * x;
}

HPyDef_SLOT(exec, HPy_mod_exec)
static int exec_impl(HPyContext *ctx, HPy module)
{
    return export_cdt(ctx, module);
}

static HPyDef *defines[] = {&exec, NULL};
static HPyModuleDef moduledef = {.doc = "provider of the cdt test API (__cdict__ tests)", .defines = defines};
HPy_MODINIT(cdictprov, moduledef)
