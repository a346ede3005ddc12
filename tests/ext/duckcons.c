/* duckcons: a consumer of the "duck" __cdict__ entries that knows neither provider
   (tests/test_cdict_lookup.py): it asks each object for its entries by name and signature
   and calls what it gets, whatever the objects' providers and modes. norm, total, scaled and tag
   look up through call-site caches (HPyBridge_CDictLookupAt, HPYBRIDGE_CDICT_LOOKUP), lookup and
   norm_loop through HPyBridge_CDictLookup: both must give the same answers. module_point and
   module_radius look up a provider module's API entries (its module __cdict__). */
#include <hpy.h>
#include "hpybridge.h"

#define NORM_SIG "double (HPyContext *, HPy)"
#define SCALED_SIG "HPy (HPyContext *, HPy, double)"
typedef double (*norm_fn)(HPyContext *, HPy);
typedef HPy (*scaled_fn)(HPyContext *, HPy, double);
typedef long (*tag_fn)(long);
typedef HPy (*point_fn)(HPyContext *, double, double);

/* norm's call site cache, which norm_site_state reports. */
static HPyBridge_CDictSite norm_site;

/* norm(obj): the object's norm entry's result, or None if it has none. */
HPyDef_METH(norm, "norm", HPyFunc_O)
static HPy norm_impl(HPyContext *ctx, HPy self, HPy obj)
{
    (void)self;
    norm_fn f = (norm_fn)HPyBridge_CDictLookupAt(&norm_site, ctx, obj, "norm", NORM_SIG);
    if (f == NULL)
        return HPyErr_Occurred(ctx) ? HPy_NULL : HPy_Dup(ctx, ctx->h_None);
    double r = f(ctx, obj);
    if (HPyErr_Occurred(ctx))
        return HPy_NULL;
    return HPyFloat_FromDouble(ctx, r);
}

/* total(seq): the sum of the norms of the items, each through its own type's entry. */
HPyDef_METH(total, "total", HPyFunc_O)
static HPy total_impl(HPyContext *ctx, HPy self, HPy seq)
{
    (void)self;
    HPy_ssize_t n = HPy_Length(ctx, seq);
    if (n < 0)
        return HPy_NULL;
    double sum = 0;
    for (HPy_ssize_t i = 0; i < n; i++) {
        HPy item = HPy_GetItem_i(ctx, seq, i);
        if (HPy_IsNull(item))
            return HPy_NULL;
        norm_fn f = (norm_fn)HPYBRIDGE_CDICT_LOOKUP(ctx, item, "norm", NORM_SIG);
        if (f == NULL) {
            HPy_Close(ctx, item);
            if (!HPyErr_Occurred(ctx))
                HPyErr_SetString(ctx, ctx->h_TypeError, "an item has no norm entry");
            return HPy_NULL;
        }
        sum += f(ctx, item);
        HPy_Close(ctx, item);
        if (HPyErr_Occurred(ctx))
            return HPy_NULL;
    }
    return HPyFloat_FromDouble(ctx, sum);
}

/* scaled(obj, k): the object's scaled entry's result (a new object of the provider's), or None. */
HPyDef_METH(scaled, "scaled", HPyFunc_VARARGS)
static HPy scaled_impl(HPyContext *ctx, HPy self, const HPy *args, size_t n)
{
    (void)self;
    HPy obj;
    double k;
    if (!HPyArg_Parse(ctx, NULL, args, n, "Od", &obj, &k))
        return HPy_NULL;
    scaled_fn f = (scaled_fn)HPYBRIDGE_CDICT_LOOKUP(ctx, obj, "scaled", SCALED_SIG);
    if (f == NULL)
        return HPyErr_Occurred(ctx) ? HPy_NULL : HPy_Dup(ctx, ctx->h_None);
    return f(ctx, obj, k);
}

/* tag(obj, v): the object's tag entry, "long (long)", applied to v, or None. */
HPyDef_METH(tag, "tag", HPyFunc_VARARGS)
static HPy tag_impl(HPyContext *ctx, HPy self, const HPy *args, size_t n)
{
    (void)self;
    HPy obj;
    long v;
    if (!HPyArg_Parse(ctx, NULL, args, n, "Ol", &obj, &v))
        return HPy_NULL;
    tag_fn f = (tag_fn)HPYBRIDGE_CDICT_LOOKUP(ctx, obj, "tag", "long (long)");
    if (f == NULL)
        return HPyErr_Occurred(ctx) ? HPy_NULL : HPy_Dup(ctx, ctx->h_None);
    return HPyLong_FromLong(ctx, f(v));
}

/* lookup(obj, name, signature): the address the lookup gives, or None (NULL without an exception). */
HPyDef_METH(lookup, "lookup", HPyFunc_VARARGS)
static HPy lookup_impl(HPyContext *ctx, HPy self, const HPy *args, size_t n)
{
    (void)self;
    HPy obj;
    const char *name, *sig;
    if (!HPyArg_Parse(ctx, NULL, args, n, "Oss", &obj, &name, &sig))
        return HPy_NULL;
    void *f = HPyBridge_CDictLookup(ctx, obj, name, sig);
    if (f == NULL)
        return HPyErr_Occurred(ctx) ? HPy_NULL : HPy_Dup(ctx, ctx->h_None);
    return HPyLong_FromUnsignedLongLong(ctx, (unsigned long long)(size_t)f);
}

/* module_point(module, x, y): the module's API entry point, "HPy (HPyContext *, double, double)",
   called (a new object of the provider's, as the consumer's handle), or None if it has none. */
HPyDef_METH(module_point, "module_point", HPyFunc_VARARGS)
static HPy module_point_impl(HPyContext *ctx, HPy self, const HPy *args, size_t n)
{
    (void)self;
    HPy module;
    double x, y;
    if (!HPyArg_Parse(ctx, NULL, args, n, "Odd", &module, &x, &y))
        return HPy_NULL;
    point_fn f = (point_fn)HPyBridge_CDictLookup(ctx, module, "point", "HPy (HPyContext *, double, double)");
    if (f == NULL)
        return HPyErr_Occurred(ctx) ? HPy_NULL : HPy_Dup(ctx, ctx->h_None);
    return f(ctx, x, y);
}

/* module_radius(module, obj): the module's API entry radius, "double (HPyContext *, HPy)", applied
   to obj (the provider's exception comes through), or None if it has none. */
HPyDef_METH(module_radius, "module_radius", HPyFunc_VARARGS)
static HPy module_radius_impl(HPyContext *ctx, HPy self, const HPy *args, size_t n)
{
    (void)self;
    HPy module, obj;
    if (!HPyArg_Parse(ctx, NULL, args, n, "OO", &module, &obj))
        return HPy_NULL;
    norm_fn f = (norm_fn)HPyBridge_CDictLookup(ctx, module, "radius", "double (HPyContext *ctx, HPy p)");
    if (f == NULL)
        return HPyErr_Occurred(ctx) ? HPy_NULL : HPy_Dup(ctx, ctx->h_None);
    double r = f(ctx, obj);
    if (HPyErr_Occurred(ctx))
        return HPy_NULL;
    return HPyFloat_FromDouble(ctx, r);
}

/* with_null(which): HPyBridge_CDictLookup (0), HPyBridge_CDictSet (1) or norm's site lookup (2) of
   HPy_NULL. */
HPyDef_METH(with_null, "with_null", HPyFunc_O)
static HPy with_null_impl(HPyContext *ctx, HPy self, HPy which)
{
    (void)self;
    long w = HPyLong_AsLong(ctx, which);
    if (w == 1) {
        if (HPyBridge_CDictSet(ctx, HPy_NULL, "norm", NORM_SIG, (void *)with_null_impl) < 0)
            return HPy_NULL;
    } else if (w == 2) {
        if (HPyBridge_CDictLookupAt(&norm_site, ctx, HPy_NULL, "norm", NORM_SIG) == NULL && HPyErr_Occurred(ctx))
            return HPy_NULL;
    } else if (HPyBridge_CDictLookup(ctx, HPy_NULL, "norm", NORM_SIG) == NULL && HPyErr_Occurred(ctx)) {
        return HPy_NULL;
    }
    return HPy_Dup(ctx, ctx->h_None);
}

static double own_norm(HPyContext *ctx, HPy self)
{
    (void)ctx;
    (void)self;
    return 42.0;
}

/* set_norm(obj, signature): gives obj (a type, or an object with a __dict__) this module's own
   norm entry, which returns 42.0, through HPyBridge_CDictSet. */
HPyDef_METH(set_norm, "set_norm", HPyFunc_VARARGS)
static HPy set_norm_impl(HPyContext *ctx, HPy self, const HPy *args, size_t n)
{
    (void)self;
    HPy obj;
    const char *sig;
    if (!HPyArg_Parse(ctx, NULL, args, n, "Os", &obj, &sig))
        return HPy_NULL;
    if (HPyBridge_CDictSet(ctx, obj, "norm", sig, (void *)own_norm) < 0)
        return HPy_NULL;
    return HPy_Dup(ctx, ctx->h_None);
}

/* set_raw(obj, name, signature, null_function): HPyBridge_CDictSet with arbitrary arguments, for
   its errors. */
HPyDef_METH(set_raw, "set_raw", HPyFunc_VARARGS)
static HPy set_raw_impl(HPyContext *ctx, HPy self, const HPy *args, size_t n)
{
    (void)self;
    HPy obj;
    const char *name, *sig;
    int null_function;
    if (!HPyArg_Parse(ctx, NULL, args, n, "Ossi", &obj, &name, &sig, &null_function))
        return HPy_NULL;
    if (HPyBridge_CDictSet(ctx, obj, name, sig, null_function ? NULL : (void *)own_norm) < 0)
        return HPy_NULL;
    return HPy_Dup(ctx, ctx->h_None);
}

/* norm_loop(obj, n, relookup): calls the norm entry n times, looking it up once (relookup false) or
   before every call (true); returns the sum (benchmarks/run.py times it). */
HPyDef_METH(norm_loop, "norm_loop", HPyFunc_VARARGS)
static HPy norm_loop_impl(HPyContext *ctx, HPy self, const HPy *args, size_t n)
{
    (void)self;
    HPy obj;
    long count;
    int relookup;
    if (!HPyArg_Parse(ctx, NULL, args, n, "Oli", &obj, &count, &relookup))
        return HPy_NULL;
    norm_fn f = (norm_fn)HPyBridge_CDictLookup(ctx, obj, "norm", NORM_SIG);
    if (f == NULL)
        return HPyErr_Occurred(ctx) ? HPy_NULL : HPy_Dup(ctx, ctx->h_None);
    double sum = 0;
    for (long i = 0; i < count; i++) {
        if (relookup)
            f = (norm_fn)HPyBridge_CDictLookup(ctx, obj, "norm", NORM_SIG);
        sum += f(ctx, obj);
    }
    return HPyFloat_FromDouble(ctx, sum);
}

/* norm_site_state(): (whether norm's site holds an answer for this context, the address of the type
   it holds or None). */
HPyDef_METH(norm_site_state, "norm_site_state", HPyFunc_NOARGS)
static HPy norm_site_state_impl(HPyContext *ctx, HPy self)
{
    (void)self;
    if (norm_site.ctx == NULL)
        return HPy_BuildValue(ctx, "(OO)", ctx->h_False, ctx->h_None);
    return HPy_BuildValue(ctx, "(OK)", norm_site.ctx == ctx ? ctx->h_True : ctx->h_False,
                          (unsigned long long)(size_t)norm_site.type);
}

static HPyDef *module_defines[] = {&norm, &total, &scaled, &tag, &lookup, &set_norm, &set_raw, &norm_loop,
                                   &with_null, &norm_site_state, &module_point, &module_radius,
                                   NULL};
static HPyModuleDef moduledef = {.doc = "a consumer of the duck entries that knows no provider",
                                 .defines = module_defines};
HPy_MODINIT(duckcons, moduledef)
