/* npshapes: an HPy universal extension that uses NumPy's C API through hpybridge, from NumPy's
 * _ARRAY_API capsule (numpy_api.toml; `python -m hpybridge gen numpy_api.toml` writes
 * numpy_api_foreign.h). The same binary runs in every HPy mode: the table import_numpy_api(ctx)
 * returns takes this module's own context and handles. No NumPy header is needed to build it.
 *
 * NumPy's header macros (PyArray_NDIM, PyArray_DIMS, ...) read struct fields directly, which an HPy
 * extension cannot do with a handle; everything here goes through functions of the table. */
#include <limits.h>
#include <hpy.h>
#include "numpy_api_foreign.h"

/* Constants of NumPy 2.x's ABI, from its headers: NPY_ABI_VERSION (_numpyconfig.h),
   NPY_2_0_API_VERSION (numpyconfig.h), NPY_DOUBLE and NPY_NOTYPE (enum NPY_TYPES), NPY_CORDER
   (enum NPY_ORDER) (ndarraytypes.h), NPY_RAVEL_AXIS on NumPy 2 (npy_2_compat.h), NPY_MAXDIMS. */
#define NP_ABI_VERSION 0x02000000u
#define NP_2_0_API_VERSION 0x12u
#define NP_DOUBLE 12
#define NP_NOTYPE 25
#define NP_CORDER 0
#define NP_RAVEL_AXIS INT_MIN
#define NP_MAXDIMS 64

/* NumPy's PyArray_Dims (ndarraytypes.h): what Newshape takes. */
typedef struct {
    HPy_ssize_t *ptr;
    int len;
} np_dims;

static const numpy_api_Foreign *np;

/* from_buffer(obj) -> ndarray: an array from any object that NumPy reads (a buffer, a sequence). */
HPyDef_METH(from_buffer, "from_buffer", HPyFunc_O)
static HPy from_buffer_impl(HPyContext *ctx, HPy self, HPy obj)
{
    return np->FromAny(ctx, obj, NULL, 0, 0, 0, HPy_NULL);
}

/* shape(obj) -> (ndim, shape list, size), as C integers through NumPy's functions. */
HPyDef_METH(shape, "shape", HPyFunc_O)
static HPy shape_impl(HPyContext *ctx, HPy self, HPy obj)
{
    HPy_ssize_t dims[NP_MAXDIMS];
    HPy arr = np->FromAny(ctx, obj, NULL, 0, 0, 0, HPy_NULL);
    if (HPy_IsNull(arr))
        return HPy_NULL;
    HPy size = HPyLong_FromSsize_t(ctx, np->Size(ctx, arr));
    HPy shape = HPy_GetAttr_s(ctx, arr, "shape");
    HPy_Close(ctx, arr);
    if (HPy_IsNull(shape) || HPy_IsNull(size)) {
        HPy_Close(ctx, shape);
        HPy_Close(ctx, size);
        return HPy_NULL;
    }
    int nd = np->IntpFromSequence(ctx, shape, dims, NP_MAXDIMS);
    HPy_Close(ctx, shape);
    HPy list = nd < 0 ? HPy_NULL : HPyList_New(ctx, 0);
    for (int i = 0; !HPy_IsNull(list) && i < nd; i++) {
        HPy d = HPyLong_FromSsize_t(ctx, dims[i]);
        if (HPy_IsNull(d) || HPyList_Append(ctx, list, d) < 0) {
            HPy_Close(ctx, list);
            list = HPy_NULL;
        }
        HPy_Close(ctx, d);
    }
    if (HPy_IsNull(list)) {
        HPy_Close(ctx, size);
        return HPy_NULL;
    }
    HPy nd_h = HPyLong_FromLong(ctx, nd);
    HPy result = HPy_IsNull(nd_h) ? HPy_NULL : HPyTuple_Pack(ctx, 3, nd_h, list, size);
    HPy_Close(ctx, nd_h);
    HPy_Close(ctx, list);
    HPy_Close(ctx, size);
    return result;
}

/* reshape(obj, rows, cols) -> ndarray of that shape. */
HPyDef_METH(reshape, "reshape", HPyFunc_VARARGS)
static HPy reshape_impl(HPyContext *ctx, HPy self, const HPy *args, size_t n)
{
    HPy obj;
    HPy_ssize_t shape[2];
    if (!HPyArg_Parse(ctx, NULL, args, n, "Onn", &obj, &shape[0], &shape[1]))
        return HPy_NULL;
    HPy arr = np->FromAny(ctx, obj, NULL, 0, 0, 0, HPy_NULL);
    if (HPy_IsNull(arr))
        return HPy_NULL;
    np_dims dims = {shape, 2};
    HPy result = np->Newshape(ctx, arr, &dims, NP_CORDER);
    HPy_Close(ctx, arr);
    return result;
}

/* arange(n) -> float64 ndarray [0.0, 1.0, ..., n - 1]. */
HPyDef_METH(arange, "arange", HPyFunc_O)
static HPy arange_impl(HPyContext *ctx, HPy self, HPy n)
{
    double stop = HPyFloat_AsDouble(ctx, n);
    if (stop == -1.0 && HPyErr_Occurred(ctx))
        return HPy_NULL;
    return np->Arange(ctx, 0.0, stop, 1.0, NP_DOUBLE);
}

/* total(obj) -> the sum of all elements, a NumPy scalar. */
HPyDef_METH(total, "total", HPyFunc_O)
static HPy total_impl(HPyContext *ctx, HPy self, HPy obj)
{
    HPy arr = np->FromAny(ctx, obj, NULL, 0, 0, 0, HPy_NULL);
    if (HPy_IsNull(arr))
        return HPy_NULL;
    HPy result = np->Sum(ctx, arr, NP_RAVEL_AXIS, NP_NOTYPE, HPy_NULL);
    HPy_Close(ctx, arr);
    return result;
}

/* versions() -> (ABI version, C-API feature version) of the running NumPy. */
HPyDef_METH(versions, "versions", HPyFunc_NOARGS)
static HPy versions_impl(HPyContext *ctx, HPy self)
{
    return HPy_BuildValue(ctx, "(II)", np->GetNDArrayCVersion(ctx), np->GetNDArrayCFeatureVersion(ctx));
}

HPyDef_METH(context_name, "context_name", HPyFunc_NOARGS)
static HPy context_name_impl(HPyContext *ctx, HPy self)
{
    return HPyUnicode_FromString(ctx, ctx->name);
}

/* NumPy's import_array(), HPy style: the table, then the checks import_array() makes. */
HPyDef_SLOT(exec, HPy_mod_exec)
static int exec_impl(HPyContext *ctx, HPy module)
{
    np = import_numpy_api(ctx);
    if (np == NULL)
        return -1;
    if (np->GetNDArrayCVersion(ctx) != NP_ABI_VERSION || np->GetNDArrayCFeatureVersion(ctx) < NP_2_0_API_VERSION) {
        HPyErr_SetString(ctx, ctx->h_ImportError, "npshapes needs NumPy 2.0 or newer (ABI 0x02000000)");
        np = NULL;
        return -1;
    }
    return 0;
}

static HPyDef *defines[] = {&from_buffer, &shape, &reshape, &arange, &total, &versions, &context_name, &exec, NULL};
static HPyModuleDef def = {.doc = "NumPy's C API from HPy, through hpybridge", .defines = defines};
HPy_MODINIT(npshapes, def)
