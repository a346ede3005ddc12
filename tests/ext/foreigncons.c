/* foreigncons: an HPy universal consumer of foreigncy's C-API functions (a plain Cython module, no
 * hpybridge) through the headers `hpybridge gen` writes from [foreign] specs: `fcy` finds them in
 * foreigncy.__pyx_capi__, `ftab` in the table capsule foreigncy.TABLE. Methods take `which` (0: fcy,
 * 1: ftab) and call the function of that table with this module's own context and handles.
 * `try_import(name)` runs the import of one of the specs that must fail (tests/test_foreign.py). */
#include <string.h>
#include <hpy.h>
#include "fcy_foreign.h"
#include "ftab_foreign.h"
#include "no_module_foreign.h"
#include "no_attr_foreign.h"
#include "not_capsule_foreign.h"
#include "wrong_name_foreign.h"
#include "unnamed_foreign.h"
#include "null_entry_foreign.h"
#include "no_key_foreign.h"
#include "wrong_sig_foreign.h"
#include "not_dict_foreign.h"

static const fcy_Foreign *fcy;
static const ftab_Foreign *ftab;

/* The function `f` of table `which`: both tables have the same members but are distinct types. */
#define CALL(which, f, ...) ((which) ? ftab->f(ctx, __VA_ARGS__) : fcy->f(ctx, __VA_ARGS__))
#define NEED_TABLES                                                                     \
    if (fcy == NULL || ftab == NULL) {                                                  \
        HPyErr_SetString(ctx, ctx->h_RuntimeError, "foreigncons: call connect() first"); \
        return HPy_NULL;                                                                \
    }

HPyDef_METH(connect_meth, "connect", HPyFunc_NOARGS)
static HPy connect_meth_impl(HPyContext *ctx, HPy self)
{
    fcy = import_fcy(ctx);
    if (fcy == NULL)
        return HPy_NULL;
    ftab = import_ftab(ctx);
    if (ftab == NULL)
        return HPy_NULL;
    return HPy_Dup(ctx, ctx->h_None);
}

HPyDef_METH(try_import_meth, "try_import", HPyFunc_O)
static HPy try_import_meth_impl(HPyContext *ctx, HPy self, HPy arg)
{
    const char *name = HPyUnicode_AsUTF8AndSize(ctx, arg, NULL);
    const void *table = NULL;
    if (name == NULL)
        return HPy_NULL;
#define TRY(spec) else if (strcmp(name, #spec) == 0) table = import_##spec(ctx);
    if (0) {}
    TRY(no_module) TRY(no_attr) TRY(not_capsule) TRY(wrong_name) TRY(unnamed) TRY(null_entry) TRY(no_key)
    TRY(wrong_sig) TRY(not_dict) TRY(fcy) TRY(ftab)
    else {
        HPyErr_SetString(ctx, ctx->h_ValueError, "no such spec");
        return HPy_NULL;
    }
#undef TRY
    if (table == NULL)
        return HPy_NULL;
    return HPyLong_FromSize_t(ctx, (size_t)table);
}

HPyDef_METH(scale_meth, "scale", HPyFunc_VARARGS)
static HPy scale_meth_impl(HPyContext *ctx, HPy self, const HPy *args, size_t n)
{
    int which;
    HPy seq;
    double k;
    NEED_TABLES
    if (!HPyArg_Parse(ctx, NULL, args, n, "iOd", &which, &seq, &k))
        return HPy_NULL;
    return CALL(which, scale, seq, k);
}

HPyDef_METH(total_meth, "total", HPyFunc_VARARGS)
static HPy total_meth_impl(HPyContext *ctx, HPy self, const HPy *args, size_t n)
{
    int which;
    HPy seq;
    NEED_TABLES
    if (!HPyArg_Parse(ctx, NULL, args, n, "iO", &which, &seq))
        return HPy_NULL;
    double r = CALL(which, total, seq);
    if (r == -1.0 && HPyErr_Occurred(ctx))
        return HPy_NULL;
    return HPyFloat_FromDouble(ctx, r);
}

HPyDef_METH(count_meth, "count", HPyFunc_VARARGS)
static HPy count_meth_impl(HPyContext *ctx, HPy self, const HPy *args, size_t n)
{
    int which;
    HPy o;
    NEED_TABLES
    if (!HPyArg_Parse(ctx, NULL, args, n, "iO", &which, &o))
        return HPy_NULL;
    HPy_ssize_t r = CALL(which, count, o);
    if (r == -1 && HPyErr_Occurred(ctx))
        return HPy_NULL;
    return HPyLong_FromSsize_t(ctx, r);
}

HPyDef_METH(ident_meth, "ident", HPyFunc_VARARGS)
static HPy ident_meth_impl(HPyContext *ctx, HPy self, const HPy *args, size_t n)
{
    int which;
    HPy o;
    NEED_TABLES
    if (!HPyArg_Parse(ctx, NULL, args, n, "iO", &which, &o))
        return HPy_NULL;
    return CALL(which, ident, o);
}

HPyDef_METH(fail_meth, "fail", HPyFunc_VARARGS)
static HPy fail_meth_impl(HPyContext *ctx, HPy self, const HPy *args, size_t n)
{
    int which;
    HPy message;
    NEED_TABLES
    if (!HPyArg_Parse(ctx, NULL, args, n, "iO", &which, &message))
        return HPy_NULL;
    return CALL(which, fail, message);
}

HPyDef_METH(pair_meth, "pair", HPyFunc_VARARGS)
static HPy pair_meth_impl(HPyContext *ctx, HPy self, const HPy *args, size_t n)
{
    NEED_TABLES
    if (n != 2) {
        HPyErr_SetString(ctx, ctx->h_TypeError, "pair(a, b)");
        return HPy_NULL;
    }
    return fcy->pair(ctx, args[0], args[1], 0); /* cpdef: 0 for __pyx_skip_dispatch */
}

HPyDef_METH(mix_meth, "mix", HPyFunc_VARARGS)
static HPy mix_meth_impl(HPyContext *ctx, HPy self, const HPy *args, size_t n)
{
    int which, c;
    HPy a, d, h;
    double b, f;
    HPy_ssize_t e;
    long g;
    NEED_TABLES
    if (!HPyArg_Parse(ctx, NULL, args, n, "iOdiOndlO", &which, &a, &b, &c, &d, &e, &f, &g, &h))
        return HPy_NULL;
    return CALL(which, mix, a, b, c, d, e, f, g, h);
}

/* `ident` n times, each result closed: reference counts and the leak detector must not move. */
HPyDef_METH(ident_many_meth, "ident_many", HPyFunc_VARARGS)
static HPy ident_many_meth_impl(HPyContext *ctx, HPy self, const HPy *args, size_t n)
{
    int which;
    HPy o;
    long count;
    NEED_TABLES
    if (!HPyArg_Parse(ctx, NULL, args, n, "iOl", &which, &o, &count))
        return HPy_NULL;
    for (long i = 0; i < count; i++) {
        HPy r = CALL(which, ident, o);
        if (HPy_IsNull(r))
            return HPy_NULL;
        HPy_Close(ctx, r);
    }
    return HPy_Dup(ctx, ctx->h_None);
}

/* `inc` n times, summed: the benchmark's loop for a function without handles. */
HPyDef_METH(inc_many_meth, "inc_many", HPyFunc_VARARGS)
static HPy inc_many_meth_impl(HPyContext *ctx, HPy self, const HPy *args, size_t n)
{
    int which;
    double x, s = 0;
    long count;
    NEED_TABLES
    if (!HPyArg_Parse(ctx, NULL, args, n, "idl", &which, &x, &count))
        return HPy_NULL;
    for (long i = 0; i < count; i++)
        s += which ? ftab->inc(ctx, x) : fcy->inc(ctx, x);
    return HPyFloat_FromDouble(ctx, s);
}

HPyDef_METH(context_name_meth, "context_name", HPyFunc_NOARGS)
static HPy context_name_meth_impl(HPyContext *ctx, HPy self)
{
    return HPyUnicode_FromString(ctx, ctx->name);
}

/* Method symbols end in _meth: HPyDef symbols are global, and `connect` is libc's (docs/hpy-contexts.md). */
static HPyDef *defines[] = {&connect_meth, &try_import_meth, &scale_meth, &total_meth, &count_meth, &ident_meth,
                            &fail_meth, &pair_meth, &mix_meth, &ident_many_meth, &inc_many_meth,
                            &context_name_meth, NULL};
static HPyModuleDef def = {.doc = "HPy consumer of foreigncy's C-API functions", .defines = defines};
HPy_MODINIT(foreigncons, def)
