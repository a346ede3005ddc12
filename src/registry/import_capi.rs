//! `import_capi`: a C-API consumer (no HPy context: C-API, Cython, PyO3 code) asks for an API's
//! CPython-API stubs by provider module and declaration, as the generated `<api>_capi.h` does.
//!
//! The same checks and messages as `import_api` (`capsules::wire::check_import`), against the
//! provider's CPython-API declaration (`crossing::fallback::FallbackStubs::decl`). The stubs do
//! not depend on who calls them, but each consumer gets a table of its own (`ConsumerTable`, as
//! HPy consumers do), so that call counting can tell the edges apart.

use crate::crossing::table::{ConsumerTable, COUNTING};
use crate::hpy::error::{Error, PyError, Result};
use crate::registry::import::{mismatch_error, provider_table};
use crate::registry::{file_of, CapiConsumer, REGISTRY};
use capsules::signature::Signature;
use capsules::wire::{capi_attribute_name, capi_capsule_name, check_import, ApiDecl, SlotDecl};
use hpy_sys::HPyContext;
use std::ffi::{c_void, CString};
use std::sync::atomic::Ordering;

/// What a C-API consumer declares it uses: the API, the version it needs and the slots it uses
/// (names and CPython-API signatures, in slot order); `at` is an address inside the consumer's
/// shared object, which names it in `apis()`.
pub struct CapiRequest {
    pub module: String,
    pub api: String,
    pub major: u32,
    pub minor: u32,
    pub slots: Vec<(String, String)>,
    pub at: usize,
}

/// Imports `request.module`'s API for a C-API consumer: the address of the consumer's table of
/// CPython-API stubs, `request.slots.len()` function pointers in slot order, kept for the life of
/// the process (the same table for every import by the same shared object and version).
///
/// # Safety
/// `ctx` must be valid for the current call.
pub unsafe fn import_capi(ctx: *mut HPyContext, request: CapiRequest) -> Result<*const *const c_void> {
    let CapiRequest { module, api, major, minor, slots, at } = request;
    let invalid = |why: String| {
        Error::new(PyError::APIImportError, format!("{api} API: the consumer's declaration is invalid: {why}"))
    };
    let slots = slots
        .into_iter()
        .enumerate()
        .map(|(i, (name, signature))| match Signature::parse(&signature) {
            Ok(signature) => Ok(SlotDecl { name, signature, function: std::ptr::null_mut() }),
            Err(e) => Err(invalid(format!("slot {i} '{name}': {e}"))),
        })
        .collect::<Result<Vec<_>>>()?;
    let wanted = ApiDecl { name: api.clone(), major, minor, slots };
    let module_c = CString::new(module.as_str()).map_err(|_| invalid("a module name with a NUL byte".into()))?;
    // SAFETY: `ctx` is valid for the current call.
    let table = unsafe { provider_table(ctx, &module_c, &api, &capi_attribute_name(&api), &capi_capsule_name(&api))? };
    let mut apis = REGISTRY.lock();
    let Some(registered) = apis.iter_mut().find(|a| std::ptr::eq(&a.capi.published.table, table)) else {
        return Err(Error::new(
            PyError::APICapsuleError,
            format!(
                "{api} API: module '{module}' holds a table of CPython-API stubs that this hpybridge runtime did not \
                 publish (was it exported through another copy of hpybridge?)"
            ),
        ));
    };
    let stubs = &registered.capi.stubs;
    check_import(&stubs.decl, &wanted, &module).map_err(mismatch_error)?;
    let file = file_of(at as *const c_void);
    let used = wanted.slots.len();
    let consumers = &mut registered.capi.consumers;
    let consumer = match consumers.iter().position(|c| c.file == file && c.minor == minor) {
        Some(i) => {
            consumers[i].imports += 1;
            &consumers[i]
        }
        None => {
            let mut table = ConsumerTable::new(stubs.functions[..used].to_vec());
            if COUNTING.load(Ordering::Acquire) {
                table.set_counting(true, &stubs.signatures())?;
            }
            consumers.push(CapiConsumer { file, minor, slots: used, imports: 1, table });
            consumers.last().expect("just pushed")
        }
    };
    Ok(consumer.table.as_c_array().cast())
}
