/* hpybridge/abi.h: the wire format of an API table, as providers, consumers and the runtime see it.
 *
 * This header is the single definition of the format: the Rust side (capsules/) is generated from
 * it by bindgen, and docs/wire-format.md explains it for other implementations.
 *
 * One struct, HPyBridge_APITable, describes an API both ways:
 *  - a provider declares its API with `function` set in every slot, and exports it;
 *  - a consumer declares what it expects (the slots it uses, `function` NULL) and imports it.
 * The runtime publishes its own copy of a provider's table in a capsule and hands consumers arrays of
 * function pointers fit for their HPy context. */
#ifndef HPYBRIDGE_ABI_H
#define HPYBRIDGE_ABI_H

#include <stdint.h>
#include <hpy.h>

/* The first 4 bytes of every table, "HPYB" in memory. */
#define HPYBRIDGE_MAGIC 0x42595048u
/* Bumped when the fields below change in an incompatible way. */
#define HPYBRIDGE_LAYOUT_VERSION 1u

typedef struct {
    /* A C identifier, unique within its API. */
    const char *name;
    /* A C declarator such as "double (HPyContext *, HPy)" (see docs/signatures.md). */
    const char *signature;
    /* The provider's implementation; NULL in a consumer's declaration. */
    void *function;
} HPyBridge_Slot;

typedef struct {
    uint32_t magic;           /* HPYBRIDGE_MAGIC */
    uint32_t layout_version;  /* HPYBRIDGE_LAYOUT_VERSION */
    const char *api_name;     /* e.g. "geometry" */
    uint32_t major;           /* incompatible changes */
    uint32_t minor;           /* slots appended; a consumer needs minor <= the provider's */
    uint32_t slot_count;      /* entries in `slots`; append-only across minor versions */
    uint32_t flags;           /* 0, or HPYBRIDGE_TABLE_CAPI in a published table of CPython-API stubs */
    /* Set by the runtime in the table it publishes: the context the provider exported from.
       NULL in a declaration. */
    HPyContext *provider_ctx;
    const HPyBridge_Slot *slots;
} HPyBridge_APITable;

/* Where a provider module publishes API <api>, spelled only here: its attribute
   HPYBRIDGE_API_ATTR("<api>") = "_<api>_API" holds a capsule named HPYBRIDGE_API_CAPSULE("<api>") =
   "hpybridge.api.<api>". The runtime's own API is "hpybridge", in `hpybridge._runtime._hpybridge_API`.
   (The Rust side builds the names from the same prefixes: capsules::wire::capsule_name.) */
#define HPYBRIDGE_CAPSULE_PREFIX "hpybridge.api."
#define HPYBRIDGE_ATTR_PREFIX "_"
#define HPYBRIDGE_ATTR_SUFFIX "_API"
#define HPYBRIDGE_API_CAPSULE(api) HPYBRIDGE_CAPSULE_PREFIX api
#define HPYBRIDGE_API_ATTR(api) HPYBRIDGE_ATTR_PREFIX api HPYBRIDGE_ATTR_SUFFIX

/* The same API for C-API callers (docs/fallback-stubs.md): the runtime also publishes a table whose
   slots hold CPython-API stubs (PyObject * for HPy, no HPyContext *), with the slots' CPython-API
   signatures, `flags` HPYBRIDGE_TABLE_CAPI and `provider_ctx` NULL, in the attribute
   HPYBRIDGE_CAPI_ATTR("<api>") = "_<api>_CAPI", a capsule named HPYBRIDGE_CAPI_CAPSULE("<api>") =
   "hpybridge.capi.<api>". A slot whose signature has no CPython-API form keeps its HPy signature
   and a NULL function. */
#define HPYBRIDGE_TABLE_CAPI 1u
#define HPYBRIDGE_CAPI_CAPSULE_PREFIX "hpybridge.capi."
#define HPYBRIDGE_CAPI_ATTR_SUFFIX "_CAPI"
#define HPYBRIDGE_CAPI_CAPSULE(api) HPYBRIDGE_CAPI_CAPSULE_PREFIX api
#define HPYBRIDGE_CAPI_ATTR(api) HPYBRIDGE_ATTR_PREFIX api HPYBRIDGE_CAPI_ATTR_SUFFIX

/* A consumer's declaration of a *foreign* table (docs/foreign-capsules.md): C-API functions that
   another module publishes without hpybridge, which an HPy consumer calls with its own context and
   handles. The runtime finds each function and hands the consumer a stub of the function's HPy
   form (HPyContext * in front, HPy for PyObject *). Two ways a module publishes them:
    - HPYBRIDGE_FOREIGN_TABLE: module attribute `attribute` holds a capsule named `capsule_name`
      (NULL: a capsule without a name) whose pointer is a table of functions (`void **`, NumPy's
      `_ARRAY_API`); a slot names its entry by `index`, below `table_size`;
    - HPYBRIDGE_FOREIGN_PYX_CAPI: module attribute `attribute` (Cython's `__pyx_capi__`) is a dict
      of capsules, one per function, each named by the function's C signature; a slot names its
      entry by `key`.
   `magic` and `layout_version` are those of HPyBridge_APITable. */
#define HPYBRIDGE_FOREIGN_TABLE 1u
#define HPYBRIDGE_FOREIGN_PYX_CAPI 2u

typedef struct {
    /* The consumer's name for the function: a C identifier. */
    const char *name;
    /* Its C-API signature, e.g. "PyObject * (PyObject *, double)": no HPyContext *, no HPy. */
    const char *signature;
    /* HPYBRIDGE_FOREIGN_PYX_CAPI: its key in the dict; NULL otherwise. */
    const char *key;
    /* HPYBRIDGE_FOREIGN_TABLE: its index in the table; 0 otherwise. */
    uint32_t index;
} HPyBridge_ForeignSlot;

typedef struct {
    uint32_t magic;           /* HPYBRIDGE_MAGIC */
    uint32_t layout_version;  /* HPYBRIDGE_LAYOUT_VERSION */
    const char *name;         /* the spec's name, for messages: a C identifier */
    const char *module;       /* the module to import, e.g. "numpy._core._multiarray_umath" */
    const char *attribute;    /* e.g. "_ARRAY_API" or "__pyx_capi__" */
    const char *capsule_name; /* HPYBRIDGE_FOREIGN_TABLE: the capsule's name, NULL for none */
    uint32_t kind;            /* HPYBRIDGE_FOREIGN_TABLE or HPYBRIDGE_FOREIGN_PYX_CAPI */
    uint32_t table_size;      /* HPYBRIDGE_FOREIGN_TABLE: entries the table has at least; else 0 */
    uint32_t slot_count;      /* entries in `slots` */
    const HPyBridge_ForeignSlot *slots;
} HPyBridge_ForeignDecl;

/* A call site's cache of one __cdict__ lookup (docs/cdict.md §7, runtime API 1.3): a consumer keeps
 * one, zeroed, per call site (static storage), and HPyBridge_CDictLookupAt (hpybridge.h) answers from
 * it inline while the consumer context, the object's type and the runtime's __cdict__ version are
 * those it was filled for; the runtime fills it (slot cdict_lookup_site) only for consumer contexts
 * whose handles name objects stably (CPython universal and trace) and types whose instances have no
 * __cdict__ of their own. `ctx` is written last: a site with ctx NULL is empty. */
typedef struct {
    HPyContext *ctx;                      /* the consumer context of the answer; NULL: empty */
    const void *type;                     /* the type's address */
    void *code;                           /* the answer: a function pointer, or NULL (no such entry) */
    intptr_t type_at;                     /* a handle's type is at (char *)handle + type_at */
    const volatile uint64_t *version_word; /* the runtime's __cdict__ version, bumped by every change */
    uint64_t version;                     /* its value when the answer was looked up */
} HPyBridge_CDictSite;

/* What a provider says about an entry beyond its slot (runtime API 1.4): flags and a doc string.
 * HPyBridge_ExportEx takes an array of them parallel to the table's slots, HPyBridge_CDictSetEx one.
 * HPYBRIDGE_ENTRY_NOGIL: the function may be called without the GIL. Only for signatures without
 * HPyContext *, HPy or PyObject * (those need the interpreter); Python calls of such an entry that
 * take a pointer (a buffer, a string, an address) release the GIL around the call (docs/cdict.md §2). */
#define HPYBRIDGE_ENTRY_NOGIL 2u
typedef struct {
    uint32_t flags;           /* 0 or HPYBRIDGE_ENTRY_NOGIL */
    const char *doc;          /* UTF-8 text for CFunction.doc, or NULL */
} HPyBridge_EntryInfo;

#endif /* HPYBRIDGE_ABI_H */
