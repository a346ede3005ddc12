//! `import_api`: a consumer asks for an API by provider module and declaration, and gets function
//! pointers it can call with its own context, or a Python exception that names both sides.

use crate::crossing::family::Family;
use crate::crossing::table::{ConsumerTable, COUNTING};
use crate::hpy;
use crate::hpy::boundary::boundary;
use crate::hpy::error::{Error, Exception, PyError, Result};
use crate::hpy::values::{close, type_name};
use crate::registry::{file_of, find_published, Consumer, REGISTRY};
use capsules::wire::{
    attribute_name, capsule_name, check_import, read_table, HPyBridge_APITable, ImportMismatch, Mismatch, Role,
};
use hpy_sys::{_HPyCapsule_key, HPy, HPyContext};
use std::ffi::{c_char, c_void, CStr};
use std::sync::atomic::Ordering;

/// Imports `module`'s API as declared by `wanted`. Returns `wanted.slot_count` function pointers
/// callable with `ctx`'s family of contexts (the consumer table; see `crossing::plan`), or NULL
/// with an exception set.
///
/// # Safety
/// `ctx` must be valid for the current call; `module` a NUL-terminated string or null; `wanted`
/// null or pointing to an `HPyBridge_APITable`.
pub unsafe extern "C" fn import_api(
    ctx: *mut HPyContext,
    module: *const c_char,
    wanted: *const HPyBridge_APITable,
) -> *const *mut c_void {
    // SAFETY: the caller's contract is `import`'s.
    unsafe { boundary(ctx, || import(ctx, module, wanted)) }
}

/// `import_api` below the boundary.
///
/// # Safety
/// As `import_api`.
unsafe fn import(
    ctx: *mut HPyContext,
    module: *const c_char,
    wanted: *const HPyBridge_APITable,
) -> Result<*const *mut c_void> {
    // SAFETY: `wanted` is null or points to an `HPyBridge_APITable` (the caller's contract).
    let wanted_decl = unsafe { read_table(wanted, Role::Consumer) }
        .map_err(|e| Error::new(PyError::APIImportError, format!("the consumer's API declaration is invalid: {e}")))?;
    let api = wanted_decl.name.as_str();
    if module.is_null() {
        return Err(Error::new(
            PyError::APIImportError,
            format!("{api} API: expected a provider module name, found NULL"),
        ));
    }
    // SAFETY: `module` is a NUL-terminated string (the caller's contract).
    let module_c = unsafe { CStr::from_ptr(module) };
    let module_name = module_c.to_string_lossy().into_owned();

    // SAFETY: `ctx` is valid for the current call.
    let table = unsafe { provider_table(ctx, module_c, api, &attribute_name(api), &capsule_name(api))? };
    // SAFETY: as above.
    let family = unsafe { Family::of(ctx) };
    let mut apis = REGISTRY.lock();
    let Some(registered) = find_published(&mut apis, table) else {
        // Not ours: say what is wrong with it if the table says so, else that it is foreign.
        // SAFETY: `table` is what the capsule named for this API holds: an API table, if it is
        // one at all, which `read_table` checks.
        let msg = match unsafe { read_table(table, Role::Provider) } {
            Err(e) => format!("{api} API: module '{module_name}' holds a malformed table: {e}"),
            Ok(d) => format!(
                "{api} API: module '{module_name}' holds a table for {} {}.{} that this hpybridge runtime did not \
                 publish (was it exported through another copy of hpybridge?)",
                d.name, d.major, d.minor
            ),
        };
        return Err(Error::new(PyError::APICapsuleError, msg));
    };
    check_import(&registered.decl, &wanted_decl, &module_name).map_err(mismatch_error)?;
    let file = file_of(wanted.cast());
    let minor = wanted_decl.minor;
    if let Some(c) = registered.consumers.iter_mut().find(|c| c.file == file && c.family == family && c.minor == minor)
    {
        c.imports += 1;
        return Ok(c.table.as_c_array());
    }
    let home = registered.published.table.provider_ctx;
    let mut base = Vec::with_capacity(wanted_decl.slots.len());
    for (i, slot) in registered.decl.slots[..wanted_decl.slots.len()].iter().enumerate() {
        // Under the registry's lock: the plans live in the registered API. The only HPy calls this can make
        // (once per process, `transfer::plain_handles_are_objects`) take and release a reference
        // to None, which runs no Python code.
        // SAFETY: `home` is the provider's home context (set when it exported) and `ctx` is valid.
        let code = unsafe {
            registered.plans.slot_code(i, &slot.signature, slot.function, &registered.family, home, &family, ctx)
        };
        base.push(code.map_err(|e| {
            e.wrapped(PyError::CrossModeError, |why| {
                format!(
                    "{api} API: slot {i} '{}' cannot be called from {family} into provider module '{module_name}' \
                     in {}: {why}",
                    slot.name, registered.family
                )
            })
        })?);
    }
    let mut table = ConsumerTable::new(base);
    if COUNTING.load(Ordering::Acquire) {
        let signatures: Vec<_> = registered.decl.slots.iter().map(|s| s.signature.clone()).collect();
        table
            .set_counting(true, &signatures)
            .map_err(|e| e.wrapped(PyError::CrossModeError, |why| format!("{api} API: {why}")))?;
    }
    let array = table.as_c_array();
    registered.consumers.push(Consumer { file, family, minor, imports: 1, table });
    Ok(array)
}

/// The exception for a provider's table that does not serve a consumer's declaration.
pub fn mismatch_error(m: ImportMismatch) -> Error {
    let kind = match m.kind {
        Mismatch::Name { .. } | Mismatch::Major | Mismatch::Minor => PyError::APIVersionError,
        _ => PyError::APISlotError,
    };
    Error::new(kind, m.to_string())
}

/// Imports `module` and returns the pointer held by its capsule named `capsule_name` in the
/// attribute `attr` (`_<api>_API`, or `_<api>_CAPI` for the CPython-API stubs).
///
/// # Safety
/// `ctx` must be valid for the current call.
pub unsafe fn provider_table(
    ctx: *mut HPyContext,
    module: &CStr,
    api: &str,
    attr: &CStr,
    capsule_name: &CStr,
) -> Result<*const HPyBridge_APITable> {
    let module_name = module.to_string_lossy();
    // SAFETY: `ctx` is valid for the current call; every handle used is one it returned, closed once.
    unsafe {
        let m = hpy!(ctx, ctx_Import_ImportModule, module.as_ptr());
        if m.is_null() {
            if hpy!(ctx, ctx_Err_ExceptionMatches, (*ctx).h_ModuleNotFoundError) != 0 {
                hpy!(ctx, ctx_Err_Clear);
                return Err(Error::new(
                    Exception::ModuleNotFoundError,
                    format!("{api} API: expected provider module '{module_name}', found no module of that name"),
                ));
            }
            // Any other error comes from the provider's own initialisation: it says more than we could.
            return Err(Error::Set);
        }
        let cap = hpy!(ctx, ctx_GetAttr_s, m, attr.as_ptr());
        close(ctx, m);
        if cap.is_null() {
            hpy!(ctx, ctx_Err_Clear);
            return Err(Error::new(
                PyError::APICapsuleError,
                format!(
                    "{api} API: expected module '{module_name}' to have attribute '{attr}' (set by export_{api}() in \
                     its HPy_mod_exec slot), found none",
                    attr = attr.to_string_lossy()
                ),
            ));
        }
        let table = if hpy!(ctx, ctx_Capsule_IsValid, cap, capsule_name.as_ptr()) != 0 {
            hpy!(ctx, ctx_Capsule_Get, cap, _HPyCapsule_key::HPyCapsule_key_Pointer, capsule_name.as_ptr())
        } else {
            std::ptr::null_mut()
        };
        if table.is_null() {
            let found = describe_non_capsule(ctx, cap);
            close(ctx, cap);
            return Err(Error::new(
                PyError::APICapsuleError,
                format!(
                    "{api} API: expected module '{module_name}' attribute '{attr}' to be a capsule named '{}', found \
                     {found}",
                    capsule_name.to_string_lossy(),
                    attr = attr.to_string_lossy()
                ),
            ));
        }
        close(ctx, cap);
        Ok(table.cast_const().cast())
    }
}

/// What `obj` is, for a message saying it is not the capsule expected.
///
/// # Safety
/// `ctx` must be valid for the current call; `obj` a live handle in it.
pub(crate) unsafe fn describe_non_capsule(ctx: *mut HPyContext, obj: HPy) -> String {
    // SAFETY: `ctx` is valid for the current call and `obj` lives in it.
    let ty = unsafe { type_name(ctx, obj) };
    if ty != "PyCapsule" {
        return format!("an object of type '{ty}'");
    }
    // SAFETY: as above; a capsule's name, if it has one, is a NUL-terminated string it keeps.
    let name = unsafe {
        let name = hpy!(ctx, ctx_Capsule_Get, obj, _HPyCapsule_key::HPyCapsule_key_Name, std::ptr::null());
        hpy!(ctx, ctx_Err_Clear);
        name
    };
    if name.is_null() {
        "a capsule without a name".to_owned()
    } else {
        // SAFETY: see above.
        format!("a capsule named '{}'", unsafe { CStr::from_ptr(name.cast::<c_char>()) }.to_string_lossy())
    }
}
