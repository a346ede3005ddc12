/* pinger / ponger: two modules, each providing one API and consuming the other's, built from this
   one source (-DPINGER selects pinger). A call bounces between them, each level appending the name
   of the context it runs in to a list: A calls B calls A ..., across HPy modes. */
#include <hpy.h>

#ifdef PINGER
#  include "ping_export.h"
#  include "pong_api.h"
#  define SELF_BOUNCE ping_bounce
#  define EXPORT_SELF export_ping
#  define OTHER_API pong_API
#  define IMPORT_OTHER import_pong
#  define MODULE_NAME pinger
#else
#  include "pong_export.h"
#  include "ping_api.h"
#  define SELF_BOUNCE pong_bounce
#  define EXPORT_SELF export_pong
#  define OTHER_API ping_API
#  define IMPORT_OTHER import_ping
#  define MODULE_NAME ponger
#endif

static const OTHER_API *other;

HPy SELF_BOUNCE(HPyContext *ctx, HPy trail, long depth)
{
    HPy name = HPyUnicode_FromString(ctx, ctx->name);
    if (HPy_IsNull(name))
        return HPy_NULL;
    int rc = HPyList_Append(ctx, trail, name);
    HPy_Close(ctx, name);
    if (rc < 0)
        return HPy_NULL;
    if (depth <= 0)
        return HPy_Dup(ctx, trail);
    if (other == NULL) {
        HPyErr_SetString(ctx, ctx->h_RuntimeError, "chain: call connect() first");
        return HPy_NULL;
    }
    return other->bounce(ctx, trail, depth - 1);
}

HPyDef_METH(connect_meth, "connect", HPyFunc_NOARGS, .doc = "import the other module's API")
static HPy connect_meth_impl(HPyContext *ctx, HPy self)
{
    other = IMPORT_OTHER(ctx);
    return other == NULL ? HPy_NULL : HPy_Dup(ctx, ctx->h_None);
}

HPyDef_METH(start, "start", HPyFunc_VARARGS, .doc = "start(trail, depth): bounce from here")
static HPy start_impl(HPyContext *ctx, HPy self, const HPy *args, size_t n)
{
    HPy trail;
    long depth;
    if (!HPyArg_Parse(ctx, NULL, args, n, "Ol", &trail, &depth))
        return HPy_NULL;
    return SELF_BOUNCE(ctx, trail, depth);
}

HPyDef_SLOT(exec, HPy_mod_exec)
static int exec_impl(HPyContext *ctx, HPy module)
{
    return EXPORT_SELF(ctx, module);
}

static HPyDef *defines[] = {&connect_meth, &start, &exec, NULL};
static HPyModuleDef moduledef = {.doc = "one end of the chain test", .defines = defines};

/* One more level of macros, so that MODULE_NAME is expanded before HPy_MODINIT pastes it. */
#define MODINIT(name, def) HPy_MODINIT(name, def)
MODINIT(MODULE_NAME, moduledef)
