//! C-level lookups of a module's API entries (docs/cdict.md §7): a module's `__cdict__`
//! (`hpybridge.cdict.ModuleCDict`) names the APIs the module exports, in export order; entry `name`
//! belongs to the first of them with a slot of that name, as in the Python mapping. It answers in
//! its HPy form, what `import_<api>()` puts in that slot of a consumer table of the caller's family
//! (the API's own call plans, `Api::plans`, shared with imports: the same pointer), and in its
//! CPython-API form where it has one other than the HPy one: the API's fallback stub, which takes
//! no context and is the same for every consumer (what `import_<api>_capi()` hands out).

use crate::crossing::family::Family;
use crate::hpy;
use crate::hpy::error::{PyError, Result};
use crate::hpy::values::{close, items, str_arg};
use crate::registry::REGISTRY;
use hpy_sys::{HPy, HPyContext};
use parking_lot::RwLock;
use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::Arc;

/// Which form of slot `usize` of the API an implementation is.
#[derive(Clone, Copy)]
enum Form {
    /// The provider's function, of the slot's HPy signature.
    Hpy(usize),
    /// The slot's CPython-API stub.
    Capi(usize),
}

/// One API's entries: per name, its forms by canonical signature.
type ApiEntries = HashMap<String, Vec<(String, Form)>>;

/// Per registered API (by name), its entries, made on the first lookup. Registered APIs never
/// change, so neither do these.
static BY_API: RwLock<Option<HashMap<String, Arc<ApiEntries>>>> = RwLock::new(None);

/// The entries of the registered API `api`, or None if no API of that name is registered.
fn entries(api: &str) -> Option<Arc<ApiEntries>> {
    if let Some(e) = BY_API.read().as_ref().and_then(|m| m.get(api)) {
        return Some(e.clone());
    }
    let made = {
        let registry = REGISTRY.lock();
        let a = registry.iter().find(|a| a.decl.name == api)?;
        let mut made = ApiEntries::new();
        for (i, slot, stub) in a.slot_forms() {
            let forms = made.entry(slot.name.clone()).or_default();
            if !forms.is_empty() {
                continue; // a name's first slot is its entry, as in `cdict::entries`
            }
            forms.push((slot.signature.to_canonical(), Form::Hpy(i)));
            if let Some(stub) = stub {
                forms.push((stub.signature.to_canonical(), Form::Capi(i)));
            }
        }
        Arc::new(made)
    };
    Some(BY_API.write().get_or_insert_with(HashMap::new).entry(api.to_owned()).or_insert(made).clone())
}

/// The names of the APIs a module's `__cdict__` covers (its `_apis`), or None if `cdict` is no
/// module `__cdict__`; any error on the way is cleared (the object has no such entries).
///
/// # Safety
/// `ctx` must be valid for the current call and `cdict` a live handle in it.
pub unsafe fn module_apis(ctx: *mut HPyContext, cdict: HPy) -> Option<Vec<String>> {
    // SAFETY: the caller's contract; every handle made here is closed once.
    unsafe {
        let list = hpy!(ctx, ctx_GetAttr_s, cdict, c"_apis".as_ptr());
        if list.is_null() {
            hpy!(ctx, ctx_Err_Clear);
            return None;
        }
        let handles = items(ctx, list, "__cdict__._apis");
        close(ctx, list);
        let Ok(handles) = handles else {
            hpy!(ctx, ctx_Err_Clear);
            return None;
        };
        let names: Result<Vec<String>> = handles.iter().map(|&h| str_arg(ctx, h, "__cdict__._apis")).collect();
        handles.into_iter().for_each(|h| close(ctx, h));
        if names.is_err() {
            hpy!(ctx, ctx_Err_Clear);
        }
        names.ok()
    }
}

/// Entry `name` of canonical signature `canonical` of a module exporting `apis`, for a consumer of
/// `consumer`'s family whose context `ctx` is; NULL if there is none. `call` names the caller in
/// messages.
///
/// # Safety
/// `ctx` must be valid for the current call and of `consumer`'s family.
pub unsafe fn module_entry(
    ctx: *mut HPyContext,
    apis: &[String],
    name: &str,
    canonical: &str,
    consumer: &Family,
    call: &str,
) -> Result<*const c_void> {
    let Some((api, forms)) = apis.iter().find_map(|api| {
        let e = entries(api)?;
        e.get(name).cloned().map(|forms| (api, forms))
    }) else {
        return Ok(std::ptr::null());
    };
    let Some(&(_, form)) = forms.iter().find(|(c, _)| c == canonical) else { return Ok(std::ptr::null()) };
    let mut registry = REGISTRY.lock();
    let Some(a) = registry.iter_mut().find(|a| a.decl.name == *api) else { return Ok(std::ptr::null()) };
    match form {
        Form::Capi(i) => Ok(a.capi.stubs.functions[i]),
        Form::Hpy(i) => {
            let home = a.published.table.provider_ctx;
            let slot = &a.decl.slots[i];
            // Under the registry's lock, as `import` makes them (its comment says which HPy calls
            // this can make).
            // SAFETY: `home` is the provider's home context (set when it exported) and `ctx` is
            // valid now, of `consumer`'s family.
            let code = unsafe { a.plans.slot_code(i, &slot.signature, slot.function, &a.family, home, consumer, ctx) };
            code.map_err(|e| {
                e.wrapped(PyError::CrossModeError, |why| {
                    format!(
                        "{call}: entry '{name}' of module '{}' ({api} API) cannot be called from {consumer} into {}: \
                         {why}",
                        a.module, a.family
                    )
                })
            })
        }
    }
}
