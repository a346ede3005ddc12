//! `import_foreign`: an HPy consumer asks for C-API functions that a foreign module publishes
//! without hpybridge, as declared in an `HPyBridge_ForeignDecl` (what the generated
//! `<name>_foreign.h` passes), and gets stubs it calls with its own context and handles
//! (`crossing::foreign`; docs/foreign-capsules.md).
//!
//! Where the functions are found, and the errors when they are not (each an `APIImportError`
//! subclass that names what was expected and what was found):
//! - a table capsule (NumPy's `_ARRAY_API`): the module attribute must be a capsule of the declared
//!   name (or none), and each declared entry non-NULL;
//! - Cython's `__pyx_capi__`: the attribute must be a dict, each declared key in it, its value a
//!   capsule whose name (the function's C signature, as Cython spells it) reads as the declared
//!   signature.

use crate::crossing::family::Family;
use crate::crossing::foreign::{foreign_stub, Flavor};
use crate::hpy;
use crate::hpy::boundary::boundary;
use crate::hpy::error::{Error, Exception, PyError, Result};
use crate::hpy::values::{close, items, str_arg};
use crate::registry::import::describe_non_capsule;
use capsules::foreign::{read_foreign, ForeignDecl, ForeignKind, ForeignSlot, Location};
use capsules::signature::Signature;
use capsules::wire::abi::HPyBridge_ForeignDecl;
use hpy_sys::{_HPyCapsule_key, HPy, HPyContext};
use parking_lot::Mutex;
use std::ffi::{c_char, c_void, CStr, CString};

/// Tables handed out so far, by (declaration address, flavor): a consumer that imports again gets
/// the same table. They live as long as the process (consumers keep them in statics).
#[allow(clippy::type_complexity)]
static TABLES: Mutex<Vec<(usize, Flavor, Box<[usize]>)>> = Mutex::new(Vec::new());

/// Imports the foreign functions `decl` declares. Returns `decl->slot_count` function pointers in
/// their HPy form, callable with `ctx`'s family of contexts, or NULL with an exception set.
///
/// # Safety
/// `ctx` must be valid for the current call; `decl` null or pointing to an `HPyBridge_ForeignDecl`.
pub unsafe extern "C" fn import_foreign(
    ctx: *mut HPyContext,
    decl: *const HPyBridge_ForeignDecl,
) -> *const *const c_void {
    // SAFETY: the caller's contract is `import`'s.
    unsafe { boundary(ctx, || import(ctx, decl)) }
}

/// `import_foreign` below the boundary.
///
/// # Safety
/// As `import_foreign`.
unsafe fn import(ctx: *mut HPyContext, decl: *const HPyBridge_ForeignDecl) -> Result<*const *const c_void> {
    // SAFETY: `decl` is null or points to an `HPyBridge_ForeignDecl` (the caller's contract).
    let d = unsafe { read_foreign(decl) }.map_err(|e| {
        Error::new(PyError::APIImportError, format!("the consumer's foreign declaration is invalid: {e}"))
    })?;
    // SAFETY: `ctx` is valid for the current call.
    let family = unsafe { Family::of(ctx) };
    // SAFETY: as above.
    let flavor = unsafe { Flavor::of(&family, ctx) };
    if let Some((.., table)) = TABLES.lock().iter().find(|(at, f, _)| *at == decl as usize && *f == flavor) {
        return Ok(table.as_ptr().cast());
    }
    // SAFETY: as above.
    let functions = unsafe { find_functions(ctx, &d)? };
    let mut table = Vec::with_capacity(functions.len());
    for (slot, function) in d.slots.iter().zip(functions) {
        // SAFETY: `function` is what the foreign module publishes for this slot, of its declared
        // signature (checked where the module says which); extension modules stay loaded.
        let code = unsafe { foreign_stub(function, &slot.signature, &slot.hpy_form, flavor, family.interpreter()) }
            .map_err(|e| e.wrapped(PyError::CrossModeError, |why| format!("{} foreign table: {why}", d.name)))?;
        table.push(code as usize);
    }
    let table: Box<[usize]> = table.into();
    let ptr = table.as_ptr().cast();
    TABLES.lock().push((decl as usize, flavor, table));
    Ok(ptr)
}

/// Each slot's foreign function, in slot order.
///
/// # Safety
/// `ctx` must be valid for the current call.
unsafe fn find_functions(ctx: *mut HPyContext, d: &ForeignDecl) -> Result<Vec<*const c_void>> {
    let (name, module, attribute) = (&d.name, &d.module, &d.attribute);
    let c = |s: &str| {
        CString::new(s)
            .map_err(|_| Error::new(PyError::APIImportError, format!("{name} foreign table: a NUL in {s:?}")))
    };
    let (module_c, attribute_c) = (c(module)?, c(attribute)?);
    // SAFETY: `ctx` is valid for the current call; every handle used is one it returned, closed once.
    unsafe {
        let m = hpy!(ctx, ctx_Import_ImportModule, module_c.as_ptr());
        if m.is_null() {
            if hpy!(ctx, ctx_Err_ExceptionMatches, (*ctx).h_ModuleNotFoundError) != 0 {
                hpy!(ctx, ctx_Err_Clear);
                return Err(Error::new(
                    Exception::ModuleNotFoundError,
                    format!("{name} foreign table: expected module '{module}', found no module of that name"),
                ));
            }
            return Err(Error::Set); // the module's own error says more
        }
        let held = hpy!(ctx, ctx_GetAttr_s, m, attribute_c.as_ptr());
        close(ctx, m);
        if held.is_null() {
            hpy!(ctx, ctx_Err_Clear);
            return Err(Error::new(
                PyError::APICapsuleError,
                format!("{name} foreign table: expected module '{module}' to have attribute '{attribute}', found none"),
            ));
        }
        let found = match &d.kind {
            ForeignKind::Table { capsule_name, .. } => from_table(ctx, d, held, capsule_name.as_deref()),
            ForeignKind::PyxCapi => from_pyx_capi(ctx, d, held),
        };
        close(ctx, held);
        found
    }
}

/// The functions of a table capsule `cap`.
///
/// # Safety
/// `ctx` must be valid for the current call; `cap` a live handle in it.
unsafe fn from_table(
    ctx: *mut HPyContext,
    d: &ForeignDecl,
    cap: HPy,
    capsule_name: Option<&str>,
) -> Result<Vec<*const c_void>> {
    let (name, module, attribute) = (&d.name, &d.module, &d.attribute);
    let wanted = capsule_name.map(|n| CString::new(n).unwrap_or_default());
    let wanted_ptr = wanted.as_ref().map_or(std::ptr::null(), |n| n.as_ptr());
    // SAFETY: `ctx` is valid for the current call and `cap` lives in it.
    let table = unsafe {
        if hpy!(ctx, ctx_Capsule_IsValid, cap, wanted_ptr) != 0 {
            hpy!(ctx, ctx_Capsule_Get, cap, _HPyCapsule_key::HPyCapsule_key_Pointer, wanted_ptr)
        } else {
            std::ptr::null_mut()
        }
    };
    if table.is_null() {
        // SAFETY: as above.
        let found = unsafe { describe_non_capsule(ctx, cap) };
        let expected = match capsule_name {
            Some(n) => format!("a capsule named '{n}'"),
            None => "a capsule without a name".to_owned(),
        };
        return Err(Error::new(
            PyError::APICapsuleError,
            format!("{name} foreign table: expected module '{module}' attribute '{attribute}' to be {expected}, found {found}"),
        ));
    }
    let table = table.cast::<*const c_void>().cast_const();
    d.slots
        .iter()
        .map(|slot: &ForeignSlot| {
            let Location::Index(index) = slot.location else { unreachable!("a table's slots have indices") };
            // SAFETY: the consumer declares the table to have more than `index` entries (checked
            // against its declared size when the declaration was read).
            let function = unsafe { *table.add(index as usize) };
            if function.is_null() {
                return Err(Error::new(
                    PyError::APISlotError,
                    format!(
                        "{name} foreign table: function '{}' is entry {index} of module '{module}' attribute \
                         '{attribute}', which is NULL",
                        slot.name
                    ),
                ));
            }
            Ok(function)
        })
        .collect()
}

/// The functions of a `__pyx_capi__`-style dict `dict`.
///
/// # Safety
/// `ctx` must be valid for the current call; `dict` a live handle in it.
unsafe fn from_pyx_capi(ctx: *mut HPyContext, d: &ForeignDecl, dict: HPy) -> Result<Vec<*const c_void>> {
    let (name, module, attribute) = (&d.name, &d.module, &d.attribute);
    // SAFETY: `ctx` is valid for the current call and `dict` lives in it.
    if unsafe { hpy!(ctx, ctx_Dict_Check, dict) } == 0 {
        // SAFETY: as above.
        let ty = unsafe { crate::hpy::values::type_name(ctx, dict) };
        return Err(Error::new(
            PyError::APICapsuleError,
            format!(
                "{name} foreign table: expected module '{module}' attribute '{attribute}' to be a dict of capsules, \
                 found an object of type '{ty}'"
            ),
        ));
    }
    let mut functions = Vec::with_capacity(d.slots.len());
    for slot in &d.slots {
        let Location::Key(key) = &slot.location else { unreachable!("__pyx_capi__ slots have keys") };
        let key_c = CString::new(key.as_str()).unwrap_or_default();
        // SAFETY: as above; `item` is closed once.
        let item = unsafe { hpy!(ctx, ctx_GetItem_s, dict, key_c.as_ptr()) };
        if item.is_null() {
            // SAFETY: as above.
            unsafe { hpy!(ctx, ctx_Err_Clear) };
            // SAFETY: as above.
            let has = unsafe { keys(ctx, dict) }.unwrap_or_default();
            return Err(Error::new(
                PyError::APISlotError,
                format!(
                    "{name} foreign table: expected module '{module}' attribute '{attribute}' to have function \
                     '{key}', found none (it has: {has})"
                ),
            ));
        }
        // SAFETY: as above.
        let found = unsafe { pyx_function(ctx, d, slot, key, item) };
        // SAFETY: as above.
        unsafe { close(ctx, item) };
        functions.push(found?);
    }
    Ok(functions)
}

/// The function a `__pyx_capi__` capsule `item` holds, once its name reads as `slot`'s signature.
///
/// # Safety
/// `ctx` must be valid for the current call; `item` a live handle in it.
unsafe fn pyx_function(
    ctx: *mut HPyContext,
    d: &ForeignDecl,
    slot: &ForeignSlot,
    key: &str,
    item: HPy,
) -> Result<*const c_void> {
    let (name, module, attribute) = (&d.name, &d.module, &d.attribute);
    let at = format!("{name} foreign table: function '{}' (module '{module}' {attribute}['{key}'])", slot.name);
    // SAFETY: `ctx` is valid for the current call and `item` lives in it; a capsule's name is a
    // NUL-terminated string it keeps (or NULL).
    let capsule_name = unsafe {
        let n = hpy!(ctx, ctx_Capsule_Get, item, _HPyCapsule_key::HPyCapsule_key_Name, std::ptr::null());
        if hpy!(ctx, ctx_Err_Occurred) != 0 {
            hpy!(ctx, ctx_Err_Clear);
            let ty = crate::hpy::values::type_name(ctx, item);
            return Err(Error::new(
                PyError::APISlotError,
                format!("{at}: expected a capsule, found an object of type '{ty}'"),
            ));
        }
        n.cast::<c_char>().cast_const()
    };
    if capsule_name.is_null() {
        return Err(Error::new(
            PyError::APISlotError,
            format!("{at}: expected a capsule named by its signature, found a capsule without a name"),
        ));
    }
    // SAFETY: checked non-null above; the capsule keeps it.
    let text = unsafe { CStr::from_ptr(capsule_name) }.to_string_lossy().into_owned();
    let found = Signature::parse(&text).map_err(|e| {
        Error::new(
            PyError::APISlotError,
            format!("{at}: its capsule's name \"{text}\" is not a signature hpybridge reads: {e}"),
        )
    })?;
    if !slot.signature.is_compatible(&found) {
        return Err(Error::new(
            PyError::APISlotError,
            format!("{at}: consumer expects \"{}\", the module has \"{found}\"", slot.signature),
        ));
    }
    // SAFETY: `item` is a capsule named `capsule_name` (just read from it).
    let function = unsafe { hpy!(ctx, ctx_Capsule_Get, item, _HPyCapsule_key::HPyCapsule_key_Pointer, capsule_name) };
    if function.is_null() {
        return Err(Error::Set);
    }
    Ok(function.cast_const())
}

/// The dict's keys, sorted and joined, for a message.
///
/// # Safety
/// `ctx` must be valid for the current call; `dict` a live dict handle in it.
unsafe fn keys(ctx: *mut HPyContext, dict: HPy) -> Option<String> {
    // SAFETY: `ctx` is valid for the current call; every handle is closed once.
    unsafe {
        let list = hpy!(ctx, ctx_Dict_Keys, dict);
        if list.is_null() {
            hpy!(ctx, ctx_Err_Clear);
            return None;
        }
        let keys = items(ctx, list, "keys");
        close(ctx, list);
        let keys = keys.ok()?;
        let mut names: Vec<String> = keys.iter().filter_map(|&k| str_arg(ctx, k, "key").ok()).collect();
        keys.iter().for_each(|&k| close(ctx, k));
        if hpy!(ctx, ctx_Err_Occurred) != 0 {
            hpy!(ctx, ctx_Err_Clear);
        }
        names.sort();
        Some(names.join(", "))
    }
}
