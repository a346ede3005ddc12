/* duckpb: the other provider of the "duck" __cdict__ entries (tests/test_cdict_lookup.py), written
   without knowing duckpa: its type Polar (radius r, angle a) has its own layout, and answers for
   norm and scaled (not tag) through its type's __cdict__. */
#include <hpy.h>
#include "hpybridge.h"

typedef struct {
    double a;
    long calls;
    double r;
} PolarObject;
HPyType_HELPERS(PolarObject)

static HPyGlobal polar_type;

static HPy new_polar(HPyContext *ctx, double r, double a)
{
    HPy type = HPyGlobal_Load(ctx, polar_type);
    PolarObject *p;
    HPy h = HPy_New(ctx, type, &p);
    HPy_Close(ctx, type);
    if (!HPy_IsNull(h)) {
        p->r = r < 0 ? -r : r;
        p->a = a;
        p->calls = 0;
    }
    return h;
}

static double polar_norm(HPyContext *ctx, HPy self)
{
    PolarObject *p = PolarObject_AsStruct(ctx, self);
    p->calls++;
    return p->r;
}

static HPy polar_scaled(HPyContext *ctx, HPy self, double k)
{
    PolarObject *p = PolarObject_AsStruct(ctx, self);
    return new_polar(ctx, p->r * k, p->a);
}

static HPyDef *polar_defines[] = {NULL};
static HPyType_Spec polar_spec = {
    .name = "duckpb.Polar",
    .basicsize = sizeof(PolarObject),
    .builtin_shape = PolarObject_SHAPE,
    .defines = polar_defines,
};

HPyDef_METH(make, "make", HPyFunc_VARARGS)
static HPy make_impl(HPyContext *ctx, HPy self, const HPy *args, size_t n)
{
    (void)self;
    double r, a;
    if (!HPyArg_Parse(ctx, NULL, args, n, "dd", &r, &a))
        return HPy_NULL;
    return new_polar(ctx, r, a);
}

HPyDef_METH(calls, "calls", HPyFunc_O)
static HPy calls_impl(HPyContext *ctx, HPy self, HPy obj)
{
    (void)self;
    HPy type = HPyGlobal_Load(ctx, polar_type);
    int ok = HPy_TypeCheck(ctx, obj, type);
    HPy_Close(ctx, type);
    if (!ok) {
        HPyErr_SetString(ctx, ctx->h_TypeError, "expected a Polar");
        return HPy_NULL;
    }
    return HPyLong_FromLong(ctx, PolarObject_AsStruct(ctx, obj)->calls);
}

HPyDef_SLOT(exec, HPy_mod_exec)
static int exec_impl(HPyContext *ctx, HPy module)
{
    HPy type = HPyType_FromSpec(ctx, &polar_spec, NULL);
    if (HPy_IsNull(type))
        return -1;
    HPyGlobal_Store(ctx, &polar_type, type);
    int rc = HPy_SetAttr_s(ctx, module, "Polar", type);
    if (rc == 0)
        rc = HPyBridge_CDictSet(ctx, type, "scaled", "HPy(HPyContext *c, HPy o, double factor)", (void *)polar_scaled);
    if (rc == 0)
        rc = HPyBridge_CDictSet(ctx, type, "norm", "double(HPyContext *, HPy)", (void *)polar_norm);
    HPy_Close(ctx, type);
    return rc;
}

static HPyDef *module_defines[] = {&make, &calls, &exec, NULL};
static HPyGlobal *module_globals[] = {&polar_type, NULL};
static HPyModuleDef moduledef = {.doc = "another provider of the duck entries", .defines = module_defines,
                                 .globals = module_globals};
HPy_MODINIT(duckpb, moduledef)
