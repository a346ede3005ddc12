/* The Rust side of the runtime module, as seen by the C glue in module.c. */
#ifndef HPYBRIDGE_RUNTIME_H
#define HPYBRIDGE_RUNTIME_H
#include <hpy.h>

HPy hpybridge_abi_info(HPyContext *ctx);
HPy hpybridge_parse_signature(HPyContext *ctx, HPy text);
HPy hpybridge_needs_interpreter(HPyContext *ctx, HPy text);
HPy hpybridge_qualified_signature(HPyContext *ctx, HPy text);
HPy hpybridge_fallback_signature(HPyContext *ctx, HPy text);
HPy hpybridge_foreign_signature(HPyContext *ctx, HPy text);
HPy hpybridge_import_capi(HPyContext *ctx, const HPy *args, size_t n);
HPy hpybridge_apis(HPyContext *ctx);
HPy hpybridge_count_calls(HPyContext *ctx, HPy on);
HPy hpybridge_call_counts(HPyContext *ctx);
HPy hpybridge_trampoline_info(HPyContext *ctx);
HPy hpybridge_lookup_cache_info(HPyContext *ctx);
HPy hpybridge_cdict_entries(HPyContext *ctx, HPy api);
HPy hpybridge_cdict_call(HPyContext *ctx, const HPy *args, size_t n);
HPy hpybridge_box(HPyContext *ctx, const HPy *args, size_t n);
HPy hpybridge_unbox(HPyContext *ctx, const HPy *args, size_t n);
int hpybridge_exec(HPyContext *ctx, HPy module);

/* Adopting foreign C functions (src/module/adopt.rs). */
HPy hpybridge_cdict_adopt(HPyContext *ctx, const HPy *args, size_t n);
HPy hpybridge_capsule_contents(HPyContext *ctx, const HPy *args, size_t n);
HPy hpybridge_cdict_set_function(HPyContext *ctx, HPy module, const HPy *args, size_t n);

/* hpybridge._runtime.CFunction (cfunction.c, src/module/cfunction.rs); `function` is its Rust data. */
HPy hpybridge_cdict_function(HPyContext *ctx, HPy module, const HPy *args, size_t n);
HPy hpybridge_cfunction_call(HPyContext *ctx, const void *function, const HPy *args, size_t nargs, HPy kwnames);
HPy hpybridge_cfunction_repr(HPyContext *ctx, const void *function);
HPy hpybridge_cfunction_get(HPyContext *ctx, const void *function, int which);
HPy hpybridge_cfunction_select(HPyContext *ctx, HPy self, const void *function, HPy signature);
HPy hpybridge_cfunction_foreign(HPyContext *ctx, const void *function);
void hpybridge_cfunction_free(const void *function);
int hpybridge_cfunction_add_type(HPyContext *ctx, HPy module);
HPy hpybridge_cfunction_new_object(HPyContext *ctx, HPy type, const void *function);
const void *hpybridge_cfunction_data(HPyContext *ctx, HPy obj);
/* The native call path on CPython (src/module/cfunction_vectorcall.rs): whether instance `h` gets
   a vectorcall function of the runtime's, stored in `*vectorcall` (1: hpybridge_cfunction_vectorcall
   or a stub made for its implementation), keeps HPy's `fallback` (0), or -1 with an exception. */
int hpybridge_cfunction_native_call(HPyContext *ctx, HPy h, const void *data, cpy_vectorcallfunc fallback,
                                    cpy_vectorcallfunc *vectorcall);
cpy_PyObject *hpybridge_cfunction_vectorcall(cpy_PyObject *callable, cpy_PyObject *const *args, size_t nargsf,
                                             cpy_PyObject *kwnames);

#endif
