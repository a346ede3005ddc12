/* infoprov: calls HPyBridge_CDictSetEx and HPyBridge_ExportEx (runtime API 1.4) with whatever flags
   and doc tests/test_cdict_info.py passes, for what they accept and what they refuse. */
#include <hpy.h>
#include "hpybridge.h"

static double half(double x)
{
    return x / 2;
}

static double norm(HPyContext *ctx, HPy o)
{
    (void)ctx;
    (void)o;
    return 0.0;
}

/* set_ex(obj, name, signature, flags, doc or None): HPyBridge_CDictSetEx with `half` for a
   signature without context, else `norm`. */
HPyDef_METH(set_ex, "set_ex", HPyFunc_VARARGS)
static HPy set_ex_impl(HPyContext *ctx, HPy self, const HPy *args, size_t n)
{
    (void)self;
    HPy obj, doc_obj;
    const char *name, *sig;
    unsigned long flags;
    if (!HPyArg_Parse(ctx, NULL, args, n, "OsskO", &obj, &name, &sig, &flags, &doc_obj))
        return HPy_NULL;
    const char *doc = HPy_Is(ctx, doc_obj, ctx->h_None) ? NULL : HPyUnicode_AsUTF8AndSize(ctx, doc_obj, NULL);
    if (doc == NULL && HPyErr_Occurred(ctx))
        return HPy_NULL;
    void *f = strstr(sig, "HPyContext") ? (void *)norm : (void *)half;
    if (HPyBridge_CDictSetEx(ctx, obj, name, sig, f, (uint32_t)flags, doc) < 0)
        return HPy_NULL;
    return HPy_Dup(ctx, ctx->h_None);
}

static const HPyBridge_Slot slots[2] = {
    {"half", "double (double)", (void *)half},
    {"norm", "double (HPyContext *, HPy)", (void *)norm},
};

/* export_ex(api, half_flags, norm_flags, half_doc): exports API `api` (slots half and norm) from
   this module with HPyBridge_ExportEx. */
HPyDef_METH(export_ex, "export_ex", HPyFunc_VARARGS)
static HPy export_ex_impl(HPyContext *ctx, HPy self, const HPy *args, size_t n)
{
    static char api[64];
    static HPyBridge_APITable table;
    static HPyBridge_EntryInfo info[2];
    unsigned long half_flags, norm_flags;
    const char *name, *doc;
    if (!HPyArg_Parse(ctx, NULL, args, n, "skks", &name, &half_flags, &norm_flags, &doc))
        return HPy_NULL;
    /* The runtime keeps its own copies of the table's strings; these statics outlive the call anyway. */
    strncpy(api, name, sizeof(api) - 1);
    table = (HPyBridge_APITable){HPYBRIDGE_MAGIC, HPYBRIDGE_LAYOUT_VERSION, api, 1, 0, 2, 0, NULL, slots};
    info[0] = (HPyBridge_EntryInfo){(uint32_t)half_flags, doc};
    info[1] = (HPyBridge_EntryInfo){(uint32_t)norm_flags, NULL};
    if (HPyBridge_ExportEx(ctx, self, &table, info) < 0)
        return HPy_NULL;
    return HPy_Dup(ctx, ctx->h_None);
}

static HPyDef *module_defines[] = {&set_ex, &export_ex, NULL};
static HPyModuleDef moduledef = {.doc = "HPyBridge_CDictSetEx and HPyBridge_ExportEx with any flags and doc",
                                 .defines = module_defines};
HPy_MODINIT(infoprov, moduledef)
