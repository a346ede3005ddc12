/* hpybridge.h: what an HPy extension includes to export or import C APIs through hpybridge.
 *
 * Find this directory with `hpybridge.get_include()`. Compile as a universal HPy extension
 * (-DHPY -DHPY_ABI_UNIVERSAL). Most code includes the headers `python -m hpybridge gen` writes from
 * an API spec, which build on the three functions below:
 *   HPyBridge_Runtime(ctx)                 the runtime's own API table (bootstrap);
 *   HPyBridge_Export(ctx, module, table)   a provider registers and publishes its API;
 *   HPyBridge_Import(ctx, module, wanted)  a consumer gets function pointers fit for its context;
 *   HPyBridge_ImportForeign(ctx, decl)     a consumer gets a foreign module's C-API functions in HPy form;
 *   HPyBridge_ExportEx(ctx, module, table, info)   the same, with each slot's flags and doc string;
 *   HPyBridge_CDictSet(ctx, obj, name, signature, function)   adds an entry to obj's own __cdict__;
 *   HPyBridge_CDictSetEx(ctx, obj, name, signature, function, flags, doc)   the same, with flags and a doc;
 *   HPyBridge_CDictLookup(ctx, obj, name, signature)          an object's entry, fit for ctx's family;
 *   HPYBRIDGE_CDICT_LOOKUP(ctx, obj, name, signature)         the same, cached inline per call site.
 * Each returns an error value with a Python exception set on failure (a lookup that finds nothing
 * returns NULL without one).
 * C-API consumers (Python.h, no HPy) look entries up with HPyBridge_CDictLookup_CAPI(obj, name, signature),
 * in hpybridge_capi.h beside this file (this one includes hpy.h, which refuses Python.h). */
#ifndef HPYBRIDGE_H
#define HPYBRIDGE_H

#include <stddef.h>
#include <string.h>
#include <hpy.h>
#include "hpybridge/abi.h"

#define HPYBRIDGE_VERSION_MAJOR 0
#define HPYBRIDGE_VERSION_MINOR 1
#define HPYBRIDGE_VERSION_PATCH 0

/* The runtime publishes its own API like any provider: API "hpybridge" in this module. */
#define HPYBRIDGE_RUNTIME_MODULE "hpybridge._runtime"
#define HPYBRIDGE_RUNTIME_ATTR HPYBRIDGE_API_ATTR("hpybridge")
#define HPYBRIDGE_RUNTIME_CAPSULE HPYBRIDGE_API_CAPSULE("hpybridge")
#define HPYBRIDGE_RUNTIME_API_MAJOR 1u

/* The runtime API's slots this header uses, by index, with their signatures. */
enum {
    HPYBRIDGE_SLOT_EXPORT_API,
    HPYBRIDGE_SLOT_IMPORT_API,
    HPYBRIDGE_SLOT_IMPORT_FOREIGN, /* since 1.1 */
    HPYBRIDGE_SLOT_CDICT_SET,      /* since 1.2 */
    HPYBRIDGE_SLOT_CDICT_LOOKUP,   /* since 1.2 */
    HPYBRIDGE_SLOT_CDICT_LOOKUP_SITE, /* since 1.3 */
    HPYBRIDGE_SLOT_EXPORT_API_EX,     /* since 1.4 */
    HPYBRIDGE_SLOT_CDICT_SET_EX,      /* since 1.4 */
    HPYBRIDGE_RUNTIME_SLOTS
};
static const HPyBridge_Slot _HPyBridge_runtime_slots[HPYBRIDGE_RUNTIME_SLOTS] = {
    {"export_api", "int (HPyContext *, HPy, void *, HPyContext *)", NULL},
    {"import_api", "void ** (HPyContext *, char *, void *)", NULL},
    {"import_foreign", "void ** (HPyContext *, void *)", NULL},
    {"cdict_set", "int (HPyContext *, HPy, char *, char *, void *, HPyContext *)", NULL},
    {"cdict_lookup", "void * (HPyContext *, HPy, char *, char *)", NULL},
    {"cdict_lookup_site", "void * (HPyContext *, HPy, char *, char *, void *)", NULL},
    {"export_api_ex", "int (HPyContext *, HPy, void *, HPyContext *, void *)", NULL},
    {"cdict_set_ex", "int (HPyContext *, HPy, char *, char *, void *, HPyContext *, uint32_t, char *)", NULL},
};
/* PyPy 7.3.19's HPy (0.9.1.dev) inserts the member h_DictType just before ctx_Capsule_New, so from
   there on every context member sits one HPy later than in HPy 0.9.0's universal ABI, although both
   say abi_version 0. Code built against 0.9.0 that calls HPyCapsule_*, HPy_Call, HPyType_GetName,
   ... on that PyPy jumps to garbage. HPYBRIDGE_CTX_MEMBER(ctx, member) reads a member where this
   context really keeps it; the HPyBridge_Capsule_* helpers below use it. */
static inline size_t _HPyBridge_LayoutShift(HPyContext *ctx)
{
    static const char suffix[] = " (PyPy backend)";
    size_t n = strlen(ctx->name), k = sizeof(suffix) - 1;
    return (n >= k && strcmp(ctx->name + n - k, suffix) == 0) ? sizeof(HPy) : 0;
}
#define HPYBRIDGE_CTX_MEMBER(ctx, member)                                                               \
    (*(__typeof__((ctx)->member) *)((char *)(ctx) + offsetof(struct _HPyContext_s, member) +          \
        (offsetof(struct _HPyContext_s, member) >= offsetof(struct _HPyContext_s, ctx_Capsule_New)     \
             ? _HPyBridge_LayoutShift(ctx) : 0)))

static inline HPy HPyBridge_Capsule_New(HPyContext *ctx, void *pointer, const char *name, HPyCapsule_Destructor *d)
{
    return HPYBRIDGE_CTX_MEMBER(ctx, ctx_Capsule_New)(ctx, pointer, name, d);
}
static inline int HPyBridge_Capsule_IsValid(HPyContext *ctx, HPy capsule, const char *name)
{
    return HPYBRIDGE_CTX_MEMBER(ctx, ctx_Capsule_IsValid)(ctx, capsule, name);
}
static inline void *HPyBridge_Capsule_GetPointer(HPyContext *ctx, HPy capsule, const char *name)
{
    return HPYBRIDGE_CTX_MEMBER(ctx, ctx_Capsule_Get)(ctx, capsule, HPyCapsule_key_Pointer, name);
}

typedef int (*HPyBridge_ExportFunc)(HPyContext *, HPy, const HPyBridge_APITable *, HPyContext *);
typedef void *const *(*HPyBridge_ImportFunc)(HPyContext *, const char *, const HPyBridge_APITable *);
typedef void *const *(*HPyBridge_ImportForeignFunc)(HPyContext *, const HPyBridge_ForeignDecl *);
typedef int (*HPyBridge_CDictSetFunc)(HPyContext *, HPy, const char *, const char *, void *, HPyContext *);
typedef void *(*HPyBridge_CDictLookupFunc)(HPyContext *, HPy, const char *, const char *);
typedef int (*HPyBridge_ExportExFunc)(HPyContext *, HPy, const HPyBridge_APITable *, HPyContext *,
                                      const HPyBridge_EntryInfo *);
typedef int (*HPyBridge_CDictSetExFunc)(HPyContext *, HPy, const char *, const char *, void *, HPyContext *, uint32_t,
                                        const char *);
typedef void *(*HPyBridge_CDictLookupSiteFunc)(HPyContext *, HPy, const char *, const char *, HPyBridge_CDictSite *);

static inline void *_HPyBridge_Fail(HPyContext *ctx, const char *msg)
{
    HPyErr_SetString(ctx, ctx->h_ImportError, msg);
    return NULL;
}

/* The runtime's API table, checked against what this header was written for. */
static inline const HPyBridge_APITable *HPyBridge_Runtime(HPyContext *ctx)
{
    HPy module = HPyImport_ImportModule(ctx, HPYBRIDGE_RUNTIME_MODULE);
    if (HPy_IsNull(module))
        return NULL;
    HPy capsule = HPy_GetAttr_s(ctx, module, HPYBRIDGE_RUNTIME_ATTR);
    HPy_Close(ctx, module);
    if (HPy_IsNull(capsule))
        return NULL;
    const HPyBridge_APITable *rt = NULL;
    if (HPyBridge_Capsule_IsValid(ctx, capsule, HPYBRIDGE_RUNTIME_CAPSULE))
        rt = (const HPyBridge_APITable *)HPyBridge_Capsule_GetPointer(ctx, capsule, HPYBRIDGE_RUNTIME_CAPSULE);
    HPy_Close(ctx, capsule);
    if (rt == NULL)
        return (const HPyBridge_APITable *)_HPyBridge_Fail(ctx,
            "hpybridge: " HPYBRIDGE_RUNTIME_MODULE "." HPYBRIDGE_RUNTIME_ATTR
            " is not a capsule named '" HPYBRIDGE_RUNTIME_CAPSULE "'");
    if (rt->magic != HPYBRIDGE_MAGIC || rt->layout_version != HPYBRIDGE_LAYOUT_VERSION)
        return (const HPyBridge_APITable *)_HPyBridge_Fail(ctx,
            "hpybridge: the runtime's API table has another wire layout than this extension's hpybridge.h");
    if (rt->major != HPYBRIDGE_RUNTIME_API_MAJOR || rt->slot_count < HPYBRIDGE_RUNTIME_SLOTS)
        return (const HPyBridge_APITable *)_HPyBridge_Fail(ctx,
            "hpybridge: the loaded runtime's API is not the one this extension's hpybridge.h expects "
            "(rebuild the extension against the installed hpybridge)");
    for (int i = 0; i < HPYBRIDGE_RUNTIME_SLOTS; i++) {
        if (strcmp(rt->slots[i].name, _HPyBridge_runtime_slots[i].name) != 0 ||
            strcmp(rt->slots[i].signature, _HPyBridge_runtime_slots[i].signature) != 0)
            return (const HPyBridge_APITable *)_HPyBridge_Fail(ctx,
                "hpybridge: the loaded runtime's API slots differ from this extension's hpybridge.h");
    }
    return rt;
}

/* For a provider's HPy_mod_exec slot: registers `table` with the runtime and sets the module
   attribute `_<api>_API` to the capsule that publishes it. Returns 0, or -1 with an exception.
   It also hands the runtime the module's home context, `_ctx_for_trampolines` (the context
   Python calls the module with, set by HPy_MODINIT's HPyInitGlobalContext_<name>): trampolines
   from consumers of other HPy modes start from it. */
static inline int HPyBridge_Export(HPyContext *ctx, HPy module, const HPyBridge_APITable *table)
{
    const HPyBridge_APITable *rt = HPyBridge_Runtime(ctx);
    if (rt == NULL)
        return -1;
    return ((HPyBridge_ExportFunc)rt->slots[HPYBRIDGE_SLOT_EXPORT_API].function)(ctx, module, table,
                                                                                   _ctx_for_trampolines);
}

/* HPyBridge_Export with what the provider says about each slot (runtime API 1.4): `info` is NULL or
   an array of table->slot_count HPyBridge_EntryInfo parallel to the slots, each slot's flags
   (HPYBRIDGE_ENTRY_NOGIL) and doc string (NULL: none), shown by the module's __cdict__ entries.
   A flag a slot's signature cannot have (NOGIL with HPyContext *, HPy or PyObject *) is refused
   with an exception, and nothing is exported. `python -m hpybridge gen` writes the call. */
static inline int HPyBridge_ExportEx(HPyContext *ctx, HPy module, const HPyBridge_APITable *table,
                                     const HPyBridge_EntryInfo *info)
{
    const HPyBridge_APITable *rt = HPyBridge_Runtime(ctx);
    if (rt == NULL)
        return -1;
    return ((HPyBridge_ExportExFunc)rt->slots[HPYBRIDGE_SLOT_EXPORT_API_EX].function)(ctx, module, table,
                                                                                       _ctx_for_trampolines, info);
}

/* For a consumer: imports `module`, checks that its API matches `wanted` (name, major, minor, and
   the name and signature of each of wanted's slots) and returns wanted->slot_count function
   pointers that are valid to call with `ctx`'s family of contexts. NULL with an exception if not. */
static inline void *const *HPyBridge_Import(HPyContext *ctx, const char *module, const HPyBridge_APITable *wanted)
{
    const HPyBridge_APITable *rt = HPyBridge_Runtime(ctx);
    if (rt == NULL)
        return NULL;
    return ((HPyBridge_ImportFunc)rt->slots[HPYBRIDGE_SLOT_IMPORT_API].function)(ctx, module, wanted);
}

/* For a consumer of a foreign C-API table (docs/foreign-capsules.md): imports decl->module, finds
   each function decl declares where it says, checks it (capsule, name, entry, signature), and returns
   decl->slot_count function pointers in their HPy form, valid to call with `ctx`'s family of contexts.
   NULL with an exception if not. */
static inline void *const *HPyBridge_ImportForeign(HPyContext *ctx, const HPyBridge_ForeignDecl *decl)
{
    const HPyBridge_APITable *rt = HPyBridge_Runtime(ctx);
    if (rt == NULL)
        return NULL;
    return ((HPyBridge_ImportForeignFunc)rt->slots[HPYBRIDGE_SLOT_IMPORT_FOREIGN].function)(ctx, decl);
}

/* The `__cdict__` protocol's C half (docs/cdict.md). Adds `function`, of C signature `signature`
   (any spelling the signature parser accepts), as entry `name` of `obj`'s own `__cdict__`, made if
   missing; an entry of that name and canonical signature is replaced. On a type, every instance
   answers for it. `function` runs in the caller's context family (its `_ctx_for_trampolines`).
   Returns 0, or -1 with an exception (a bad name or signature, an object whose `__cdict__` cannot
   be set). */
static inline int HPyBridge_CDictSet(HPyContext *ctx, HPy obj, const char *name, const char *signature,
                                     void *function)
{
    const HPyBridge_APITable *rt = HPyBridge_Runtime(ctx);
    if (rt == NULL)
        return -1;
    return ((HPyBridge_CDictSetFunc)rt->slots[HPYBRIDGE_SLOT_CDICT_SET].function)(ctx, obj, name, signature, function,
                                                                                 _ctx_for_trampolines);
}

/* HPyBridge_CDictSet with flags (0 or HPYBRIDGE_ENTRY_NOGIL) and a doc string (NULL: none) for the
   entry (runtime API 1.4). */
static inline int HPyBridge_CDictSetEx(HPyContext *ctx, HPy obj, const char *name, const char *signature,
                                       void *function, uint32_t flags, const char *doc)
{
    const HPyBridge_APITable *rt = HPyBridge_Runtime(ctx);
    if (rt == NULL)
        return -1;
    return ((HPyBridge_CDictSetExFunc)rt->slots[HPYBRIDGE_SLOT_CDICT_SET_EX].function)(
        ctx, obj, name, signature, function, _ctx_for_trampolines, flags, doc);
}

/* The function pointer of `obj`'s `__cdict__` entry `name` with signature `signature` (compared
   canonically; `obj`'s own `__cdict__` first, then its type's, by the MRO), valid to call with
   `ctx`'s family of contexts: the provider's own function in the same family, else a trampoline.
   NULL *without* an exception if `obj` has no such entry; NULL with an exception for a malformed
   signature, or an entry that cannot be called from `ctx`'s family. Cast it to the signature's
   function type. The runtime's table is looked up once per translation unit. */
static inline void *HPyBridge_CDictLookup(HPyContext *ctx, HPy obj, const char *name, const char *signature)
{
    static HPyBridge_CDictLookupFunc lookup;
    if (lookup == NULL) {
        const HPyBridge_APITable *rt = HPyBridge_Runtime(ctx);
        if (rt == NULL)
            return NULL;
        lookup = (HPyBridge_CDictLookupFunc)rt->slots[HPYBRIDGE_SLOT_CDICT_LOOKUP].function;
    }
    return lookup(ctx, obj, name, signature);
}

/* HPyBridge_CDictLookup cached at a call site: `site` is the call site's own HPyBridge_CDictSite,
   zeroed (static storage), always used with the same `name` and `signature`. While the consumer
   context, obj's type and the runtime's __cdict__ version are those the site was filled for, the
   answer comes from the site inline (a few loads and compares, no call into the runtime); otherwise
   the runtime looks it up (HPyBridge_CDictLookup's answer, errors included) and fills the site when
   the answer holds for every instance of obj's type: for CPython universal and trace consumers and
   types without an instance __dict__ (debug-mode and PyPy consumers always ask the runtime: correct,
   slower). Any HPyBridge_CDictSet makes every site stale. A site is read and written under the GIL,
   which every HPy call holds (HPy 0.9 has no free-threaded build): do not share one across
   interpreters' threads without it. */
static inline void *_HPyBridge_CDictLookupFill(HPyBridge_CDictSite *site, HPyContext *ctx, HPy obj, const char *name,
                                               const char *signature)
{
    static HPyBridge_CDictLookupSiteFunc lookup;
    if (lookup == NULL) {
        const HPyBridge_APITable *rt = HPyBridge_Runtime(ctx);
        if (rt == NULL)
            return NULL;
        lookup = (HPyBridge_CDictLookupSiteFunc)rt->slots[HPYBRIDGE_SLOT_CDICT_LOOKUP_SITE].function;
    }
    return lookup(ctx, obj, name, signature, site);
}

static inline void *HPyBridge_CDictLookupAt(HPyBridge_CDictSite *site, HPyContext *ctx, HPy obj, const char *name,
                                            const char *signature)
{
    if (__builtin_expect(site->ctx == ctx && !HPy_IsNull(obj) && site->version == *site->version_word &&
                             *(const void *const *)((const char *)obj._i + site->type_at) == site->type,
                         1))
        return site->code;
    return _HPyBridge_CDictLookupFill(site, ctx, obj, name, signature);
}

/* HPyBridge_CDictLookupAt with a site of its own for this call site (a GNU C statement expression:
   GCC and Clang). `name` and `signature` should be string literals. */
#define HPYBRIDGE_CDICT_LOOKUP(ctx, obj, name, signature)                                              \
    __extension__({                                                                                    \
        static HPyBridge_CDictSite _hpybridge_site;                                                    \
        HPyBridge_CDictLookupAt(&_hpybridge_site, (ctx), (obj), (name), (signature));                  \
    })

#endif /* HPYBRIDGE_H */
