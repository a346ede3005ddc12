/* geometry: provider of the geometry API (geometry.toml), plane vectors as 2-tuples of floats.
 *
 * Implements geometry_<name> for every slot of the spec and exports them from its HPy_mod_exec
 * slot with export_geometry(), from the header `python -m hpybridge gen geometry.toml` writes.
 * A few functions are also Python-callable methods, for comparison with what consumers compute.
 *
 * Conventions (see geometry.toml): functions returning HPy return HPy_NULL with an exception set on
 * error; functions returning double return -1.0 with an exception set (callers check
 * HPyErr_Occurred); arguments are borrowed, results are new handles the caller closes. */
#include <math.h> /* hypot: libm, which every Python process has loaded (the .so does not link it) */
#include <hpy.h>
#include "geometry_export.h"

/* TypeError "geometry: expected a vector (a 2-tuple of numbers), found <what>". */
static int vector_error(HPyContext *ctx, HPy found, const char *what)
{
    HPy type = HPy_Type(ctx, found);
    if (HPy_IsNull(type))
        return -1;
    HPyErr_Format(ctx, ctx->h_TypeError,
                  "geometry: expected a vector (a 2-tuple of numbers), found %s'%s'", what,
                  /* HPyType_GetName through HPYBRIDGE_CTX_MEMBER: see hpybridge.h (PyPy's context layout) */
                  HPYBRIDGE_CTX_MEMBER(ctx, ctx_Type_GetName)(ctx, type));
    HPy_Close(ctx, type);
    return -1;
}

static int coordinate(HPyContext *ctx, HPy v, HPy_ssize_t i, double *out)
{
    HPy item = HPy_GetItem_i(ctx, v, i);
    if (HPy_IsNull(item))
        return -1;
    if (!HPyNumber_Check(ctx, item)) {
        vector_error(ctx, item, i == 0 ? "a tuple whose x is a " : "a tuple whose y is a ");
        HPy_Close(ctx, item);
        return -1;
    }
    double value = HPyFloat_AsDouble(ctx, item);
    HPy_Close(ctx, item);
    if (value == -1.0 && HPyErr_Occurred(ctx))
        return -1;  /* e.g. OverflowError for a huge int: more telling than ours */
    *out = value;
    return 0;
}

int geometry_components(HPyContext *ctx, HPy v, double *x, double *y)
{
    if (!HPyTuple_Check(ctx, v))
        return vector_error(ctx, v, "an object of type ");
    HPy_ssize_t n = HPy_Length(ctx, v);
    if (n < 0)
        return -1;
    if (n != 2) {
        HPyErr_Format(ctx, ctx->h_TypeError,
                      "geometry: expected a vector (a 2-tuple of numbers), found a tuple of length %zd", n);
        return -1;
    }
    return coordinate(ctx, v, 0, x) < 0 || coordinate(ctx, v, 1, y) < 0 ? -1 : 0;
}

HPy geometry_vec(HPyContext *ctx, double x, double y)
{
    HPy items[2];
    items[0] = HPyFloat_FromDouble(ctx, x);
    if (HPy_IsNull(items[0]))
        return HPy_NULL;
    items[1] = HPyFloat_FromDouble(ctx, y);
    if (HPy_IsNull(items[1])) {
        HPy_Close(ctx, items[0]);
        return HPy_NULL;
    }
    HPy result = HPyTuple_FromArray(ctx, items, 2);
    HPy_Close(ctx, items[0]);
    HPy_Close(ctx, items[1]);
    return result;
}

HPy geometry_add(HPyContext *ctx, HPy a, HPy b)
{
    double ax, ay, bx, by;
    if (geometry_components(ctx, a, &ax, &ay) < 0 || geometry_components(ctx, b, &bx, &by) < 0)
        return HPy_NULL;
    return geometry_vec(ctx, ax + bx, ay + by);
}

double geometry_norm(HPyContext *ctx, HPy v)
{
    double x, y;
    if (geometry_components(ctx, v, &x, &y) < 0)
        return -1.0;
    return hypot(x, y);
}

double geometry_dot(HPyContext *ctx, HPy a, HPy b)
{
    double ax, ay, bx, by;
    if (geometry_components(ctx, a, &ax, &ay) < 0 || geometry_components(ctx, b, &bx, &by) < 0)
        return -1.0;
    return ax * bx + ay * by;
}

HPy geometry_scale(HPyContext *ctx, HPy v, double k)
{
    double x, y;
    if (geometry_components(ctx, v, &x, &y) < 0)
        return HPy_NULL;
    return geometry_vec(ctx, k * x, k * y);
}

double geometry_distance(HPyContext *ctx, HPy a, HPy b)
{
    double ax, ay, bx, by;
    if (geometry_components(ctx, a, &ax, &ay) < 0 || geometry_components(ctx, b, &bx, &by) < 0)
        return -1.0;
    return hypot(ax - bx, ay - by);
}

/* Python-callable methods. */

static HPy double_result(HPyContext *ctx, double value)
{
    if (value == -1.0 && HPyErr_Occurred(ctx))
        return HPy_NULL;
    return HPyFloat_FromDouble(ctx, value);
}

HPyDef_METH(vec, "vec", HPyFunc_VARARGS, .doc = "vec(x, y) -> (x, y) as floats")
static HPy vec_impl(HPyContext *ctx, HPy self, const HPy *args, size_t nargs)
{
    double x, y;
    if (!HPyArg_Parse(ctx, NULL, args, nargs, "dd:vec", &x, &y))
        return HPy_NULL;
    return geometry_vec(ctx, x, y);
}

HPyDef_METH(add, "add", HPyFunc_VARARGS, .doc = "add(a, b) -> a + b")
static HPy add_impl(HPyContext *ctx, HPy self, const HPy *args, size_t nargs)
{
    HPy a, b;
    if (!HPyArg_Parse(ctx, NULL, args, nargs, "OO:add", &a, &b))
        return HPy_NULL;
    return geometry_add(ctx, a, b);
}

HPyDef_METH(norm, "norm", HPyFunc_O, .doc = "norm(v) -> the length of v")
static HPy norm_impl(HPyContext *ctx, HPy self, HPy v)
{
    return double_result(ctx, geometry_norm(ctx, v));
}

HPyDef_METH(dot, "dot", HPyFunc_VARARGS, .doc = "dot(a, b) -> a . b")
static HPy dot_impl(HPyContext *ctx, HPy self, const HPy *args, size_t nargs)
{
    HPy a, b;
    if (!HPyArg_Parse(ctx, NULL, args, nargs, "OO:dot", &a, &b))
        return HPy_NULL;
    return double_result(ctx, geometry_dot(ctx, a, b));
}

HPyDef_METH(distance, "distance", HPyFunc_VARARGS, .doc = "distance(a, b) -> |a - b|")
static HPy distance_impl(HPyContext *ctx, HPy self, const HPy *args, size_t nargs)
{
    HPy a, b;
    if (!HPyArg_Parse(ctx, NULL, args, nargs, "OO:distance", &a, &b))
        return HPy_NULL;
    return double_result(ctx, geometry_distance(ctx, a, b));
}

HPyDef_SLOT(exec, HPy_mod_exec)
static int exec_impl(HPyContext *ctx, HPy module)
{
    return export_geometry(ctx, module);
}

static HPyDef *module_defines[] = {&vec, &add, &norm, &dot, &distance, &exec, NULL};
static HPyModuleDef moduledef = {
    .doc = "hpybridge example: plane vectors as 2-tuples of floats; exports the geometry API",
    .defines = module_defines,
};

HPy_MODINIT(geometry, moduledef)
