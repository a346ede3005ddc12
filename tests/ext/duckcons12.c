/* duckcons12: a consumer built with runtime API 1.2's hpybridge.h (tests/ext/compat12), which
   knows five runtime slots and no call-site cache: a newer runtime must serve it unchanged
   (tests/test_cdict_lookup.py). */
#include <hpy.h>
#include "hpybridge.h"

typedef double (*norm_fn)(HPyContext *, HPy);

/* norm(obj): the object's norm entry's result, or None if it has none. */
HPyDef_METH(norm, "norm", HPyFunc_O)
static HPy norm_impl(HPyContext *ctx, HPy self, HPy obj)
{
    (void)self;
    norm_fn f = (norm_fn)HPyBridge_CDictLookup(ctx, obj, "norm", "double (HPyContext *, HPy)");
    if (f == NULL)
        return HPyErr_Occurred(ctx) ? HPy_NULL : HPy_Dup(ctx, ctx->h_None);
    double r = f(ctx, obj);
    if (HPyErr_Occurred(ctx))
        return HPy_NULL;
    return HPyFloat_FromDouble(ctx, r);
}

static HPyDef *module_defines[] = {&norm, NULL};
static HPyModuleDef moduledef = {.doc = "a runtime API 1.2 consumer of the duck entries", .defines = module_defines};
HPy_MODINIT(duckcons12, moduledef)
