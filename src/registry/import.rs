//! `import_api`: a consumer asks for an API by provider module and declaration, and gets function
//! pointers it can call with its own context, or a Python exception that names both sides.

use crate::crossing::family::Family;
use crate::hpy::error::{raise, PyError};
use crate::hpy;
use crate::hpy::values::{close, type_name};
use crate::registry::{file_of, find_published, Consumer, REGISTRY};
use crate::crossing::table::{ConsumerTable, COUNTING};
use capsules::wire::{check_import, read_table, HPyBridge_APITable, Mismatch, Role};
use hpy_sys::{_HPyCapsule_key, HPy, HPyContext};
use std::ffi::{c_char, c_void, CStr, CString};
use std::ptr::null;
use std::sync::atomic::Ordering;

/// Imports `module`'s API as declared by `wanted`. Returns `wanted.slot_count` function pointers
/// callable with `ctx`'s family of contexts (the provider's own functions, or trampolines; see
/// `tables`), or NULL with an exception set.
///
/// # Safety
/// `ctx` must be valid for the current call; `module` a NUL-terminated string or null; `wanted`
/// null or pointing to an `HPyBridge_APITable`.
pub unsafe extern "C" fn import_api(
    ctx: *mut HPyContext,
    module: *const c_char,
    wanted: *const HPyBridge_APITable,
) -> *const *mut c_void {
    let wanted_decl = match read_table(wanted, Role::Consumer) {
        Ok(decl) => decl,
        Err(e) => {
            raise(ctx, PyError::APIImportError, &format!("the consumer's API declaration is invalid: {e}"));
            return null();
        }
    };
    let api = wanted_decl.name.as_str();
    if module.is_null() {
        raise(ctx, PyError::APIImportError, &format!("{api} API: expected a provider module name, found NULL"));
        return null();
    }
    let module_c = CStr::from_ptr(module);
    let module_name = module_c.to_string_lossy().into_owned();

    let table = match provider_table(ctx, module_c, api) {
        Some(t) => t,
        None => return null(),
    };
    let family = Family::of(ctx);
    let mut apis = REGISTRY.lock();
    let Some(entry) = find_published(&mut apis, table) else {
        drop(apis);
        // Not ours: say what is wrong with it if the table says so, else that it is foreign.
        let msg = match read_table(table, Role::Provider) {
            Err(e) => format!("{api} API: module '{module_name}' holds a malformed table: {e}"),
            Ok(d) => format!(
                "{api} API: module '{module_name}' holds a table for {} {}.{} that this hpybridge runtime did not \
                 publish (was it exported through another copy of hpybridge?)",
                d.name, d.major, d.minor
            ),
        };
        raise(ctx, PyError::APICapsuleError, &msg);
        return null();
    };
    if let Err(m) = check_import(&entry.decl, &wanted_decl, &module_name) {
        let kind = match m.kind {
            Mismatch::Name { .. } | Mismatch::Major | Mismatch::Minor => PyError::APIVersionError,
            _ => PyError::APISlotError,
        };
        drop(apis);
        raise(ctx, kind, &m.to_string());
        return null();
    }
    let file = file_of(wanted.cast());
    let minor = wanted_decl.minor;
    if let Some(c) = entry.consumers.iter_mut().find(|c| c.file == file && c.family == family && c.minor == minor) {
        c.imports += 1;
        return c.table.as_c_array();
    }
    let home = entry.published.table.provider_ctx;
    let mut base = Vec::with_capacity(wanted_decl.slots.len());
    for (i, slot) in entry.decl.slots[..wanted_decl.slots.len()].iter().enumerate() {
        match entry.plans.slot_code(i, &slot.signature, slot.function, &entry.family, home, &family, ctx) {
            Ok(code) => base.push(code),
            Err(why) => {
                let msg = format!(
                    "{api} API: slot {i} '{}' cannot be called from {family} into provider module '{module_name}' \
                     in {}: {why}",
                    slot.name, entry.family
                );
                drop(apis);
                raise(ctx, PyError::CrossModeError, &msg);
                return null();
            }
        }
    }
    let mut table = ConsumerTable::new(base);
    if COUNTING.load(Ordering::Acquire) {
        let signatures: Vec<_> = entry.decl.slots.iter().map(|s| s.signature.clone()).collect();
        if let Err(why) = table.set_counting(true, &signatures) {
            drop(apis);
            raise(ctx, PyError::CrossModeError, &format!("{api} API: {why}"));
            return null();
        }
    }
    let array = table.as_c_array();
    entry.consumers.push(Consumer { file, family, minor, imports: 1, table });
    array
}

/// Imports `module` and returns the pointer held by its `_<api>_API` capsule, or None with an
/// exception set.
unsafe fn provider_table(ctx: *mut HPyContext, module: &CStr, api: &str) -> Option<*const HPyBridge_APITable> {
    let module_name = module.to_string_lossy();
    let m = hpy!(ctx, ctx_Import_ImportModule, module.as_ptr());
    if m.is_null() {
        if hpy!(ctx, ctx_Err_ExceptionMatches, (*ctx).h_ModuleNotFoundError) != 0 {
            hpy!(ctx, ctx_Err_Clear);
            crate::hpy::values::set_error(
                ctx,
                (*ctx).h_ModuleNotFoundError,
                &format!("{api} API: expected provider module '{module_name}', found no module of that name"),
            );
        }
        // Any other error comes from the provider's own initialisation: it says more than we could.
        return None;
    }
    let attr = CString::new(format!("_{api}_API")).expect("identifier");
    let capsule_name = CString::new(format!("hpybridge.api.{api}")).expect("identifier");
    let cap = hpy!(ctx, ctx_GetAttr_s, m, attr.as_ptr());
    close(ctx, m);
    if cap.is_null() {
        hpy!(ctx, ctx_Err_Clear);
        raise(
            ctx,
            PyError::APICapsuleError,
            &format!(
                "{api} API: expected module '{module_name}' to have attribute '{attr}' (set by export_{api}() in its \
                 HPy_mod_exec slot), found none",
                attr = attr.to_string_lossy()
            ),
        );
        return None;
    }
    let table = if hpy!(ctx, ctx_Capsule_IsValid, cap, capsule_name.as_ptr()) != 0 {
        hpy!(ctx, ctx_Capsule_Get, cap, _HPyCapsule_key::HPyCapsule_key_Pointer, capsule_name.as_ptr())
    } else {
        std::ptr::null_mut()
    };
    if table.is_null() {
        let found = describe_non_capsule(ctx, cap);
        close(ctx, cap);
        raise(
            ctx,
            PyError::APICapsuleError,
            &format!(
                "{api} API: expected module '{module_name}' attribute '_{api}_API' to be a capsule named \
                 '{}', found {found}",
                capsule_name.to_string_lossy()
            ),
        );
        return None;
    }
    close(ctx, cap);
    Some(table.cast_const().cast())
}

unsafe fn describe_non_capsule(ctx: *mut HPyContext, obj: HPy) -> String {
    let ty = type_name(ctx, obj);
    if ty != "PyCapsule" {
        return format!("an object of type '{ty}'");
    }
    let name = hpy!(ctx, ctx_Capsule_Get, obj, _HPyCapsule_key::HPyCapsule_key_Name, std::ptr::null());
    hpy!(ctx, ctx_Err_Clear);
    if name.is_null() {
        "a capsule without a name".to_owned()
    } else {
        format!("a capsule named '{}'", CStr::from_ptr(name.cast::<c_char>()).to_string_lossy())
    }
}
