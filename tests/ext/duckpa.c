/* duckpa: one of two independent providers of the "duck" __cdict__ entries (tests/test_cdict_lookup.py):
   its type Point (cartesian x, y) answers for norm, scaled and tag through its type's __cdict__,
   declared in duckpa.toml's [[types]] and registered by the generated register_Point_cdict; its
   API (point, radius) is its module's __cdict__. */
#include <math.h>
#include <hpy.h>
#include "duckpa_export.h"

typedef struct {
    double x, y;
} PointObject;
HPyType_HELPERS(PointObject)

static HPyGlobal point_type;

HPy duckpa_point(HPyContext *ctx, double x, double y)
{
    HPy type = HPyGlobal_Load(ctx, point_type);
    PointObject *p;
    HPy h = HPy_New(ctx, type, &p);
    HPy_Close(ctx, type);
    if (!HPy_IsNull(h)) {
        p->x = x;
        p->y = y;
    }
    return h;
}

double duckpa_Point_norm(HPyContext *ctx, HPy self)
{
    PointObject *p = PointObject_AsStruct(ctx, self);
    return hypot(p->x, p->y);
}

double duckpa_radius(HPyContext *ctx, HPy p)
{
    HPy type = HPyGlobal_Load(ctx, point_type);
    int is_point = HPy_TypeCheck(ctx, p, type);
    HPy_Close(ctx, type);
    if (!is_point) {
        HPyErr_SetString(ctx, ctx->h_TypeError, "radius() expects a duckpa.Point");
        return -1.0;
    }
    return duckpa_Point_norm(ctx, p);
}

HPy duckpa_Point_scaled(HPyContext *ctx, HPy self, double k)
{
    PointObject *p = PointObject_AsStruct(ctx, self);
    return duckpa_point(ctx, p->x * k, p->y * k);
}

long duckpa_Point_tag(long v) { return v + 1000; }

static HPyDef *point_defines[] = {NULL};
static HPyType_Spec point_spec = {
    .name = "duckpa.Point",
    .basicsize = sizeof(PointObject),
    .builtin_shape = PointObject_SHAPE,
    .flags = HPy_TPFLAGS_DEFAULT | HPy_TPFLAGS_BASETYPE,
    .defines = point_defines,
};

HPyDef_METH(make, "make", HPyFunc_VARARGS)
static HPy make_impl(HPyContext *ctx, HPy self, const HPy *args, size_t n)
{
    (void)self;
    double x, y;
    if (!HPyArg_Parse(ctx, NULL, args, n, "dd", &x, &y))
        return HPy_NULL;
    return duckpa_point(ctx, x, y);
}

HPyDef_SLOT(exec, HPy_mod_exec)
static int exec_impl(HPyContext *ctx, HPy module)
{
    HPy type = HPyType_FromSpec(ctx, &point_spec, NULL);
    if (HPy_IsNull(type))
        return -1;
    HPyGlobal_Store(ctx, &point_type, type);
    int rc = HPy_SetAttr_s(ctx, module, "Point", type);
    if (rc == 0)
        rc = register_Point_cdict(ctx, type);
    if (rc == 0)
        rc = export_duckpa(ctx, module);
    HPy_Close(ctx, type);
    return rc;
}

static HPyDef *module_defines[] = {&make, &exec, NULL};
static HPyGlobal *module_globals[] = {&point_type, NULL};
static HPyModuleDef moduledef = {.doc = "a provider of the duck entries", .defines = module_defines,
                                 .globals = module_globals};
HPy_MODINIT(duckpa, moduledef)
