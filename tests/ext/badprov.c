/* badprov: a provider that gets things wrong on purpose. Each method puts one kind of bad `calc`
   API into the module (or tries to export one), so tests can check importers and the runtime say
   clearly what is wrong instead of crashing. */
#include <hpy.h>
#include <hpybridge.h>

static double hypot_impl_(HPyContext *ctx, double x, double y) { (void)ctx; return x + y; }

static HPyBridge_Slot slots[] = {
    {"add", "HPy (HPyContext *, HPy, HPy)", (void *)hypot_impl_},
    {"hypot", "double (HPyContext *, double, double)", (void *)hypot_impl_},
};
static HPyBridge_APITable bad_magic = {0xdeadbeef, HPYBRIDGE_LAYOUT_VERSION, "calc", 1, 0, 2, 0, NULL, slots};
static HPyBridge_APITable bad_layout = {HPYBRIDGE_MAGIC, 99, "calc", 1, 0, 2, 0, NULL, slots};

static HPyBridge_Slot bad_sig_slots[] = {
    {"add", "HPy (HPyContext *, HPy, HPy)", (void *)hypot_impl_},
    {"hypot", "double (HPyContext *, dobule, double)", (void *)hypot_impl_},
};
static HPyBridge_APITable bad_signature = {HPYBRIDGE_MAGIC, HPYBRIDGE_LAYOUT_VERSION, "calc", 1, 0, 2, 0, NULL,
                                           bad_sig_slots};
static HPyBridge_Slot dup_slots[] = {
    {"add", "HPy (HPyContext *, HPy, HPy)", (void *)hypot_impl_},
    {"add", "double (HPyContext *, double, double)", (void *)hypot_impl_},
};
static HPyBridge_APITable duplicate_slot = {HPYBRIDGE_MAGIC, HPYBRIDGE_LAYOUT_VERSION, "calc", 1, 0, 2, 0, NULL,
                                            dup_slots};
static HPyBridge_Slot null_slots[] = {
    {"add", "HPy (HPyContext *, HPy, HPy)", NULL},
};
static HPyBridge_APITable null_function = {HPYBRIDGE_MAGIC, HPYBRIDGE_LAYOUT_VERSION, "calc", 1, 0, 1, 0, NULL,
                                           null_slots};

static int set_attr(HPyContext *ctx, HPy module, HPy value)
{
    if (HPy_IsNull(value))
        return -1;
    int rc = HPy_SetAttr_s(ctx, module, "_calc_API", value);
    HPy_Close(ctx, value);
    return rc;
}

static HPy done(HPyContext *ctx, int rc)
{
    return rc < 0 ? HPy_NULL : HPy_Dup(ctx, ctx->h_None);
}

HPyDef_METH(put_int, "put_int", HPyFunc_NOARGS, .doc = "_calc_API = 42")
static HPy put_int_impl(HPyContext *ctx, HPy self)
{
    return done(ctx, set_attr(ctx, self, HPyLong_FromLong(ctx, 42)));
}

HPyDef_METH(put_foreign_capsule, "put_foreign_capsule", HPyFunc_NOARGS, .doc = "a capsule named otherlib.table")
static HPy put_foreign_capsule_impl(HPyContext *ctx, HPy self)
{
    return done(ctx, set_attr(ctx, self, HPyBridge_Capsule_New(ctx, &bad_magic, "otherlib.table", NULL)));
}

HPyDef_METH(put_bad_magic, "put_bad_magic", HPyFunc_NOARGS, .doc = "the right capsule name, magic 0xdeadbeef")
static HPy put_bad_magic_impl(HPyContext *ctx, HPy self)
{
    return done(ctx, set_attr(ctx, self, HPyBridge_Capsule_New(ctx, &bad_magic, "hpybridge.api.calc", NULL)));
}

HPyDef_METH(put_bad_layout, "put_bad_layout", HPyFunc_NOARGS, .doc = "the right capsule name, layout 99")
static HPy put_bad_layout_impl(HPyContext *ctx, HPy self)
{
    return done(ctx, set_attr(ctx, self, HPyBridge_Capsule_New(ctx, &bad_layout, "hpybridge.api.calc", NULL)));
}

HPyDef_METH(put_unregistered, "put_unregistered", HPyFunc_NOARGS,
            .doc = "a well-formed table in a capsule the runtime never published")
static HPy put_unregistered_impl(HPyContext *ctx, HPy self)
{
    static HPyBridge_APITable good = {HPYBRIDGE_MAGIC, HPYBRIDGE_LAYOUT_VERSION, "calc", 1, 0, 2, 0, NULL, slots};
    return done(ctx, set_attr(ctx, self, HPyBridge_Capsule_New(ctx, &good, "hpybridge.api.calc", NULL)));
}

HPyDef_METH(export_bad, "export_bad", HPyFunc_O, .doc = "export_bad(kind): HPyBridge_Export of a malformed table")
static HPy export_bad_impl(HPyContext *ctx, HPy self, HPy kind)
{
    const char *k = HPyUnicode_AsUTF8AndSize(ctx, kind, NULL);
    if (k == NULL)
        return HPy_NULL;
    const HPyBridge_APITable *t = strcmp(k, "magic") == 0      ? &bad_magic
                                  : strcmp(k, "layout") == 0   ? &bad_layout
                                  : strcmp(k, "signature") == 0 ? &bad_signature
                                  : strcmp(k, "duplicate") == 0 ? &duplicate_slot
                                  : strcmp(k, "null") == 0      ? &null_function
                                                                : NULL;
    return done(ctx, HPyBridge_Export(ctx, self, t));
}

static HPyDef *defines[] = {&put_int, &put_foreign_capsule, &put_bad_magic, &put_bad_layout, &put_unregistered,
                            &export_bad, NULL};
static HPyModuleDef moduledef = {.doc = "a provider that gets it wrong", .defines = defines};
HPy_MODINIT(badprov, moduledef)
