/* duckimp: imports duckpa's API (import_duckpa, duckpa_api.h) and looks the same entries up on the
   module (HPyBridge_CDictLookup), so that tests/test_cdict_lookup.py can check that a lookup of a
   module's API entry gives what the import's table holds for this consumer's family. */
#include <hpy.h>
#include "duckpa_api.h"

/* imported(): the addresses import_duckpa's table holds, [point, radius]. */
HPyDef_METH(imported, "imported", HPyFunc_NOARGS)
static HPy imported_impl(HPyContext *ctx, HPy self)
{
    (void)self;
    const duckpa_API *api = import_duckpa(ctx);
    if (api == NULL)
        return HPy_NULL;
    return HPy_BuildValue(ctx, "[KK]", (unsigned long long)(size_t)api->point,
                          (unsigned long long)(size_t)api->radius);
}

/* lookup(obj, name, signature): the address HPyBridge_CDictLookup gives, or None. */
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

static HPyDef *module_defines[] = {&imported, &lookup, NULL};
static HPyModuleDef moduledef = {.doc = "duckpa's API imported and looked up", .defines = module_defines};
HPy_MODINIT(duckimp, moduledef)
