/* shapes: a consumer of the geometry API (geometry.toml): polygons as sequences of 2-tuples.
 *
 * Its HPy_mod_exec slot imports the API with import_geometry(), from the header
 * `python -m hpybridge gen geometry.toml` writes, and keeps the table in a static; every method
 * then computes purely through that table: this module knows nothing of how vectors are stored.
 * It needs geometry 1.1 (distance and scale), so a geometry 1.0 provider makes `import shapes`
 * fail with hpybridge.errors.APIVersionError. */
#include <hpy.h>
#include "geometry_api.h"

static const geometry_API *geometry;

/* The points of a polygon, as a new tuple: `points` itself if it is a tuple, else tuple(points) (any
   iterable). HPy_NULL with an exception set if that fails or there are fewer than `min` points. The
   points themselves are checked by the geometry functions that use them. */
static HPy polygon(HPyContext *ctx, HPy points, HPy_ssize_t min, const char *what)
{
    HPy tuple;
    if (HPyTuple_Check(ctx, points)) {
        tuple = HPy_Dup(ctx, points);
    } else {
        HPy args = HPyTuple_Pack(ctx, 1, points);
        if (HPy_IsNull(args))
            return HPy_NULL;
        tuple = HPy_CallTupleDict(ctx, ctx->h_TupleType, args, HPy_NULL);
        HPy_Close(ctx, args);
        if (HPy_IsNull(tuple)) {
            /* Not iterable at all: say what was expected. Other errors come from iterating: keep them. */
            if (HPyErr_ExceptionMatches(ctx, ctx->h_TypeError) && !HPy_HasAttr_s(ctx, points, "__iter__") &&
                    !HPy_HasAttr_s(ctx, points, "__getitem__")) {
                HPy type = HPy_Type(ctx, points);
                if (HPy_IsNull(type))
                    return HPy_NULL;
                HPyErr_Clear(ctx);
                HPyErr_Format(ctx, ctx->h_TypeError, "shapes.%s: expected a sequence of points (2-tuples), "
                              "found '%s'", what, /* via HPYBRIDGE_CTX_MEMBER: see hpybridge.h */
                              HPYBRIDGE_CTX_MEMBER(ctx, ctx_Type_GetName)(ctx, type));
                HPy_Close(ctx, type);
            }
            return HPy_NULL;
        }
    }
    HPy_ssize_t n = HPy_Length(ctx, tuple);
    if (n < 0) {
        HPy_Close(ctx, tuple);
        return HPy_NULL;
    }
    if (n < min) {
        HPyErr_Format(ctx, ctx->h_ValueError, "shapes.%s: expected at least %zd point%s, found %zd", what, min,
                      min == 1 ? "" : "s", n);
        HPy_Close(ctx, tuple);
        return HPy_NULL;
    }
    return tuple;
}

HPyDef_METH(perimeter, "perimeter", HPyFunc_O,
            .doc = "perimeter(points) -> the length of the closed polygon through points (2-tuples)")
static HPy perimeter_impl(HPyContext *ctx, HPy self, HPy points)
{
    HPy pts = polygon(ctx, points, 1, "perimeter");
    if (HPy_IsNull(pts))
        return HPy_NULL;
    HPy_ssize_t n = HPy_Length(ctx, pts);
    HPy first = HPy_GetItem_i(ctx, pts, 0);
    if (HPy_IsNull(first)) {
        HPy_Close(ctx, pts);
        return HPy_NULL;
    }
    double total = 0.0;
    HPy prev = HPy_Dup(ctx, first);
    for (HPy_ssize_t i = 1; i <= n; i++) {
        /* The last edge closes the polygon: from the last point back to the first. */
        HPy cur = i < n ? HPy_GetItem_i(ctx, pts, i) : HPy_Dup(ctx, first);
        if (HPy_IsNull(cur))
            goto fail;
        double d = geometry->distance(ctx, prev, cur);
        HPy_Close(ctx, prev);
        prev = cur;
        if (d == -1.0 && HPyErr_Occurred(ctx))
            goto fail;
        total += d;
    }
    HPy_Close(ctx, prev);
    HPy_Close(ctx, first);
    HPy_Close(ctx, pts);
    return HPyFloat_FromDouble(ctx, total);

fail:
    HPy_Close(ctx, prev);
    HPy_Close(ctx, first);
    HPy_Close(ctx, pts);
    return HPy_NULL;
}

HPyDef_METH(centroid, "centroid", HPyFunc_O,
            .doc = "centroid(points) -> the mean of the points (2-tuples): the centroid of the vertices")
static HPy centroid_impl(HPyContext *ctx, HPy self, HPy points)
{
    HPy pts = polygon(ctx, points, 1, "centroid");
    if (HPy_IsNull(pts))
        return HPy_NULL;
    HPy_ssize_t n = HPy_Length(ctx, pts);
    HPy sum = geometry->vec(ctx, 0.0, 0.0);
    if (HPy_IsNull(sum)) {
        HPy_Close(ctx, pts);
        return HPy_NULL;
    }
    for (HPy_ssize_t i = 0; i < n; i++) {
        HPy p = HPy_GetItem_i(ctx, pts, i);
        if (HPy_IsNull(p))
            goto fail;
        HPy next = geometry->add(ctx, sum, p);
        HPy_Close(ctx, p);
        if (HPy_IsNull(next))
            goto fail;
        HPy_Close(ctx, sum);
        sum = next;
    }
    HPy result = geometry->scale(ctx, sum, 1.0 / (double)n);
    HPy_Close(ctx, sum);
    HPy_Close(ctx, pts);
    return result;

fail:
    HPy_Close(ctx, sum);
    HPy_Close(ctx, pts);
    return HPy_NULL;
}

HPyDef_METH(path_length, "path_length", HPyFunc_O,
            .doc = "path_length(points) -> the length of the open path through points (2-tuples), as the sum "
                   "of norm(b + (-a)) over consecutive points a, b")
static HPy path_length_impl(HPyContext *ctx, HPy self, HPy points)
{
    HPy pts = polygon(ctx, points, 1, "path_length");
    if (HPy_IsNull(pts))
        return HPy_NULL;
    HPy_ssize_t n = HPy_Length(ctx, pts);
    double total = 0.0;
    for (HPy_ssize_t i = 1; i < n; i++) {
        double ax, ay;
        HPy a = HPy_GetItem_i(ctx, pts, i - 1);
        if (HPy_IsNull(a))
            goto fail;
        int rc = geometry->components(ctx, a, &ax, &ay);
        HPy_Close(ctx, a);
        if (rc < 0)
            goto fail;
        HPy minus_a = geometry->vec(ctx, -ax, -ay);
        if (HPy_IsNull(minus_a))
            goto fail;
        HPy b = HPy_GetItem_i(ctx, pts, i);
        if (HPy_IsNull(b)) {
            HPy_Close(ctx, minus_a);
            goto fail;
        }
        HPy diff = geometry->add(ctx, b, minus_a);
        HPy_Close(ctx, b);
        HPy_Close(ctx, minus_a);
        if (HPy_IsNull(diff))
            goto fail;
        double d = geometry->norm(ctx, diff);
        HPy_Close(ctx, diff);
        if (d == -1.0 && HPyErr_Occurred(ctx))
            goto fail;
        total += d;
    }
    HPy_Close(ctx, pts);
    return HPyFloat_FromDouble(ctx, total);

fail:
    HPy_Close(ctx, pts);
    return HPy_NULL;
}

HPyDef_METH(context, "context", HPyFunc_NOARGS, .doc = "The name of the HPy context this call runs in.")
static HPy context_impl(HPyContext *ctx, HPy self)
{
    return HPyUnicode_FromString(ctx, ctx->name);
}

HPyDef_SLOT(exec, HPy_mod_exec)
static int exec_impl(HPyContext *ctx, HPy module)
{
    /* Imports the provider module if it is not yet (it must be importable by the name geometry.toml
       gives: `geometry`), checks its API against what geometry_api.h declares and returns the table,
       or NULL with the exception that makes `import shapes` fail. */
    const geometry_API *api = import_geometry(ctx);
    if (api == NULL)
        return -1;
    geometry = api;
    return 0;
}

static HPyDef *module_defines[] = {&perimeter, &centroid, &path_length, &context, &exec, NULL};
static HPyModuleDef moduledef = {
    .doc = "hpybridge example: polygons, computed through the geometry API of module 'geometry'",
    .defines = module_defines,
};

HPy_MODINIT(shapes, moduledef)
