//! The runtime's own C API, "hpybridge" 1.4, exported like any provider's: registered in the
//! registry and published as the capsule `hpybridge._runtime._hpybridge_API`, which `hpybridge.h`
//! bootstraps from. Slot order and signatures are those `hpybridge.h` expects.

use crate::hpy::error::Result;
use crate::registry::cdict_lookup::{cdict_lookup, cdict_lookup_site};
use crate::registry::export::{export, export_api, export_api_ex};
use crate::registry::import::import_api;
use crate::registry::import_foreign::import_foreign;
use crate::registry::object_cdict::{cdict_set, cdict_set_ex};
use capsules::wire::{HPyBridge_APITable, HPyBridge_Slot, HPYBRIDGE_LAYOUT_VERSION, HPYBRIDGE_MAGIC};
use hpy_sys::{HPy, HPyContext};

struct Static<T>(T);
// SAFETY: immutable data pointing only to other statics (strings and functions).
unsafe impl<T> Sync for Static<T> {}

static SLOTS: Static<[HPyBridge_Slot; 8]> = Static([
    HPyBridge_Slot {
        name: c"export_api".as_ptr(),
        signature: c"int (HPyContext *, HPy, void *, HPyContext *)".as_ptr(),
        function: export_api as *mut _,
    },
    HPyBridge_Slot {
        name: c"import_api".as_ptr(),
        signature: c"void ** (HPyContext *, char *, void *)".as_ptr(),
        function: import_api as *mut _,
    },
    // Since 1.1.
    HPyBridge_Slot {
        name: c"import_foreign".as_ptr(),
        signature: c"void ** (HPyContext *, void *)".as_ptr(),
        function: import_foreign as *mut _,
    },
    // Since 1.2.
    HPyBridge_Slot {
        name: c"cdict_set".as_ptr(),
        signature: c"int (HPyContext *, HPy, char *, char *, void *, HPyContext *)".as_ptr(),
        function: cdict_set as *mut _,
    },
    HPyBridge_Slot {
        name: c"cdict_lookup".as_ptr(),
        signature: c"void * (HPyContext *, HPy, char *, char *)".as_ptr(),
        function: cdict_lookup as *mut _,
    },
    // Since 1.3.
    HPyBridge_Slot {
        name: c"cdict_lookup_site".as_ptr(),
        signature: c"void * (HPyContext *, HPy, char *, char *, void *)".as_ptr(),
        function: cdict_lookup_site as *mut _,
    },
    // Since 1.4.
    HPyBridge_Slot {
        name: c"export_api_ex".as_ptr(),
        signature: c"int (HPyContext *, HPy, void *, HPyContext *, void *)".as_ptr(),
        function: export_api_ex as *mut _,
    },
    HPyBridge_Slot {
        name: c"cdict_set_ex".as_ptr(),
        signature: c"int (HPyContext *, HPy, char *, char *, void *, HPyContext *, uint32_t, char *)".as_ptr(),
        function: cdict_set_ex as *mut _,
    },
]);

static DECLARATION: Static<HPyBridge_APITable> = Static(HPyBridge_APITable {
    magic: HPYBRIDGE_MAGIC,
    layout_version: HPYBRIDGE_LAYOUT_VERSION,
    api_name: c"hpybridge".as_ptr(),
    major: 1,
    minor: 4,
    slot_count: 8,
    flags: 0,
    provider_ctx: std::ptr::null_mut(),
    slots: SLOTS.0.as_ptr(),
});

/// From the runtime module's exec slot; `home` is the runtime module's home context.
///
/// # Safety
/// `ctx` valid for the current call, `module` the runtime module.
pub unsafe fn publish(ctx: *mut HPyContext, module: HPy, home: *mut HPyContext) -> Result<()> {
    // SAFETY: the caller's contract; `DECLARATION` is a valid API table.
    unsafe { export(ctx, module, &DECLARATION.0, home, std::ptr::null()) }
}
