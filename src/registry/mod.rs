//! The process-wide registry of exported APIs: who exports what, in which context family, the
//! table published for it, and who imported it.
//!
//! Entries live as long as the process: their published tables are pointed to by capsules and by
//! consumers' static variables, which never tell us they are done.

use crate::crossing::fallback::FallbackStubs;
use crate::crossing::family::Family;
use crate::crossing::plan::CallPlans;
use crate::crossing::table::ConsumerTable;
use capsules::fallback::is_own_fallback;
use capsules::wire::abi::HPYBRIDGE_TABLE_CAPI;
use capsules::wire::{
    capi_capsule_name, capsule_name, ApiDecl, HPyBridge_APITable, HPyBridge_Slot, SlotDecl, HPYBRIDGE_LAYOUT_VERSION,
    HPYBRIDGE_MAGIC,
};
use hpy_sys::HPyContext;

pub mod cdict_lookup;
pub mod export;
pub mod import;
pub mod import_capi;
pub mod import_foreign;
pub mod lookup_cache;
pub mod module_lookup;
pub mod object_cdict;
pub mod own_api;
use parking_lot::Mutex;
use std::ffi::{c_void, CStr, CString};

/// The table the runtime publishes for an API, in C layout, with the memory it points into.
pub struct Published {
    pub table: HPyBridge_APITable,
    _slots: Box<[HPyBridge_Slot]>,
    _strings: Vec<CString>,
    /// The capsule's name (`wire::capsule_name`; the capsule keeps a pointer to it).
    pub capsule_name: CString,
}

impl Published {
    /// The table of `decl` as exported from `provider_ctx`.
    pub fn new(decl: &ApiDecl, provider_ctx: *mut HPyContext) -> Box<Published> {
        Published::with(decl, provider_ctx, 0, capsule_name(&decl.name))
    }

    /// The table of `decl`'s CPython-API stubs (`FallbackStubs::decl`): no context, flagged.
    pub fn capi(decl: &ApiDecl) -> Box<Published> {
        Published::with(decl, std::ptr::null_mut(), HPYBRIDGE_TABLE_CAPI, capi_capsule_name(&decl.name))
    }

    fn with(decl: &ApiDecl, provider_ctx: *mut HPyContext, flags: u32, capsule_name: CString) -> Box<Published> {
        let mut strings = Vec::new();
        let mut keep = |s: &str| {
            let c = CString::new(s).expect("declarations were read from C strings");
            let p = c.as_ptr();
            strings.push(c);
            p
        };
        let api_name = keep(&decl.name);
        let slots: Box<[HPyBridge_Slot]> = decl
            .slots
            .iter()
            .map(|s| HPyBridge_Slot {
                name: keep(&s.name),
                // Consumers that read the capsule themselves compare canonical spellings.
                signature: keep(&s.signature.to_canonical()),
                function: s.function,
            })
            .collect();
        let table = HPyBridge_APITable {
            magic: HPYBRIDGE_MAGIC,
            layout_version: HPYBRIDGE_LAYOUT_VERSION,
            api_name,
            major: decl.major,
            minor: decl.minor,
            slot_count: slots.len() as u32,
            flags,
            provider_ctx,
            slots: slots.as_ptr(),
        };
        Box::new(Published { table, capsule_name, _slots: slots, _strings: strings })
    }
}

/// A consumer: one declaration (file, family, minor version) and the table its imports return.
pub struct Consumer {
    /// The shared object holding the consumer's declaration, when the dynamic linker knows it.
    pub file: Option<String>,
    pub family: Family,
    pub minor: u32,
    pub imports: u64,
    pub table: ConsumerTable,
}

/// A consumer of an API's CPython-API stubs (`import_capi`): no context family, one table for all.
pub struct CapiConsumer {
    /// The shared object holding the consumer's import, when the dynamic linker knows it.
    pub file: Option<String>,
    pub minor: u32,
    pub slots: usize,
    pub imports: u64,
    /// What its import returned: the stubs (`Capi::stubs.functions`), or counting stubs in front
    /// of them while call counting is on.
    pub table: ConsumerTable,
}

/// An API's CPython-API form: its stubs, the table published for them, and who imported them.
pub struct Capi {
    pub stubs: FallbackStubs,
    pub published: Box<Published>,
    pub consumers: Vec<CapiConsumer>,
}

/// A registered API: its declaration, its provider, the table published for it, its consumers and
/// the call plans made for them; and the same for C-API callers (`capi`).
pub struct Api {
    pub decl: ApiDecl,
    pub module: String,
    /// The family of the provider's home context (`published.table.provider_ctx`).
    pub family: Family,
    pub file: Option<String>,
    pub published: Box<Published>,
    pub consumers: Vec<Consumer>,
    pub plans: CallPlans,
    pub capi: Capi,
    /// Each slot's flags and doc string (`HPyBridge_ExportEx`; none from `HPyBridge_Export`).
    pub info: Vec<crate::cdict::info::EntryInfo>,
}

// SAFETY: the raw pointers of an `Api` point to immutable, process-lifetime data (published
// tables, functions); the registry's mutex serialises every access to the `Api`s themselves.
unsafe impl Send for Api {}

impl Api {
    /// Each slot, with its CPython-API stub where that is another function of another form (a slot
    /// that is its own fallback, one without `HPyContext *` or `HPy`, has none): the implementations
    /// the API's `__cdict__` entries have, in slot order (`cdict::entries`, `module_lookup`).
    pub fn slot_forms(&self) -> impl Iterator<Item = (usize, &SlotDecl, Option<&SlotDecl>)> {
        self.decl.slots.iter().zip(self.capi.stubs.decl.slots.iter()).enumerate().map(|(i, (slot, stub))| {
            let other = !stub.function.is_null() && !is_own_fallback(&slot.signature);
            (i, slot, other.then_some(stub))
        })
    }
}

pub static REGISTRY: Mutex<Vec<Api>> = Mutex::new(Vec::new());

/// Finds the registered API whose published table is `table`, if this runtime published it.
pub fn find_published(apis: &mut [Api], table: *const HPyBridge_APITable) -> Option<&mut Api> {
    apis.iter_mut().find(|a| std::ptr::eq(&a.published.table, table))
}

/// The path of the shared object containing `addr`.
// dladdr only looks `addr` up in the dynamic linker's tables; it never reads through it.
#[allow(clippy::not_unsafe_ptr_arg_deref)]
pub fn file_of(addr: *const c_void) -> Option<String> {
    // SAFETY: `Dl_info` is plain C data (pointers and integers): all zeros is a valid value.
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    // SAFETY: dladdr only reads the loader's own tables.
    if addr.is_null() || unsafe { libc::dladdr(addr, &mut info) } == 0 || info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: dli_fname is a NUL-terminated path owned by the dynamic linker.
    Some(unsafe { CStr::from_ptr(info.dli_fname) }.to_string_lossy().into_owned())
}

/// A module's name as its file says (`.../shapes.hpy0.so` -> `shapes`).
pub fn module_of_file(file: Option<&str>) -> Option<&str> {
    let base = file?.rsplit('/').next()?;
    Some(base.split('.').next().unwrap_or(base))
}
