/* The Rust side of the runtime module, as seen by the C glue in module.c. */
#ifndef HPYBRIDGE_RUNTIME_H
#define HPYBRIDGE_RUNTIME_H
#include <hpy.h>

HPy hpybridge_abi_info(HPyContext *ctx);
HPy hpybridge_parse_signature(HPyContext *ctx, HPy text);
HPy hpybridge_qualified_signature(HPyContext *ctx, HPy text);
HPy hpybridge_fallback_signature(HPyContext *ctx, HPy text);
HPy hpybridge_foreign_signature(HPyContext *ctx, HPy text);
HPy hpybridge_import_capi(HPyContext *ctx, const HPy *args, size_t n);
HPy hpybridge_apis(HPyContext *ctx);
HPy hpybridge_count_calls(HPyContext *ctx, HPy on);
HPy hpybridge_call_counts(HPyContext *ctx);
HPy hpybridge_trampoline_info(HPyContext *ctx);
HPy hpybridge_cdict_entries(HPyContext *ctx, HPy api);
HPy hpybridge_cdict_call(HPyContext *ctx, const HPy *args, size_t n);
HPy hpybridge_box(HPyContext *ctx, const HPy *args, size_t n);
HPy hpybridge_unbox(HPyContext *ctx, const HPy *args, size_t n);
int hpybridge_exec(HPyContext *ctx, HPy module);

#endif
