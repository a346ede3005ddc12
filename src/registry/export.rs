//! `export_api`: a provider registers its API and publishes it as a capsule on its module, with its
//! CPython-API stubs (`crossing::fallback`) in a second capsule, and its functions in the module's
//! `__cdict__` (docs/cdict.md).

use crate::cdict::info::EntryInfo;
use crate::crossing::fallback::FallbackStubs;
use crate::crossing::family::Family;
use crate::hpy;
use crate::hpy::boundary::boundary;
use crate::hpy::error::{check, Error, PyError, Result};
use crate::hpy::values::{close, str_attr, unicode};
use crate::registry::{file_of, Api, Capi, Published, REGISTRY};
use capsules::wire::abi::HPyBridge_EntryInfo;
use capsules::wire::{attribute_name, capi_attribute_name, read_table, HPyBridge_APITable, Role};
use hpy_sys::{HPy, HPyContext, HPy_NULL};
use std::ffi::{c_int, CStr};

fn describe(module: &str, family: &Family, file: &Option<String>) -> String {
    format!("module '{module}' ({family}, {})", file.as_deref().unwrap_or("unknown file"))
}

/// Registers `table` for `module`, publishes the runtime's copy in a capsule and stores it in the
/// module attribute `_<api>_API`, and the table of its CPython-API stubs in `_<api>_CAPI`. `home` is the provider's `_ctx_for_trampolines`: the context
/// Python calls it with, which trampolines start from (NULL: `ctx`). Returns 0, or -1 with an
/// exception set.
///
/// # Safety
/// `ctx` must be valid for the current call, `module` a live handle in it, `home` null or the
/// provider's home context, and `table` null or pointing to an `HPyBridge_APITable` (checked
/// further by `read_table`).
pub unsafe extern "C" fn export_api(
    ctx: *mut HPyContext,
    module: HPy,
    table: *const HPyBridge_APITable,
    home: *mut HPyContext,
) -> c_int {
    // SAFETY: the caller's contract is `export`'s.
    unsafe { boundary(ctx, || export(ctx, module, table, home, std::ptr::null()).map(|()| 0)) }
}

/// `export_api` with what the provider says about each slot (runtime API 1.4,
/// `HPyBridge_ExportEx`): `info` null or `table`'s slot count of `HPyBridge_EntryInfo`s, each
/// slot's flags and doc string, which its `__cdict__` entry shows (`cdict::info`).
///
/// # Safety
/// As `export_api`; `info` null or pointing to one `HPyBridge_EntryInfo` per slot of `table`,
/// their docs null or NUL-terminated strings.
pub unsafe extern "C" fn export_api_ex(
    ctx: *mut HPyContext,
    module: HPy,
    table: *const HPyBridge_APITable,
    home: *mut HPyContext,
    info: *const HPyBridge_EntryInfo,
) -> c_int {
    // SAFETY: the caller's contract is `export`'s.
    unsafe { boundary(ctx, || export(ctx, module, table, home, info).map(|()| 0)) }
}

/// `export_api_ex` below the boundary.
///
/// # Safety
/// As `export_api_ex`.
pub unsafe fn export(
    ctx: *mut HPyContext,
    module: HPy,
    table: *const HPyBridge_APITable,
    home: *mut HPyContext,
    info: *const HPyBridge_EntryInfo,
) -> Result<()> {
    // SAFETY: `table` is null or points to an `HPyBridge_APITable` (the caller's contract).
    let decl = unsafe { read_table(table, Role::Provider) }
        .map_err(|e| Error::new(PyError::APIRegistrationError, format!("cannot export an API: {e}")))?;
    // SAFETY: `info` is null or holds one per slot of `table` (the caller's contract).
    let info = unsafe { EntryInfo::of_slots(info, &decl.name, &decl.slots)? };
    // SAFETY: `ctx` is valid for the current call and `module` lives in it.
    let module_name = unsafe { str_attr(ctx, module, c"__name__") }.unwrap_or_else(|| "?".to_owned());
    let home = if home.is_null() { ctx } else { home };
    // SAFETY: `home` is the provider's home context or `ctx`, both live.
    let family = unsafe { Family::of(home) };
    let file = decl.slots.first().and_then(|s| file_of(s.function));
    let already = |apis: &[Api]| -> Result<()> {
        match apis.iter().find(|a| a.decl.name == decl.name) {
            None => Ok(()),
            Some(a) => Err(Error::new(
                PyError::APIRegistrationError,
                format!(
                    "{} API {}.{} is already registered by {}; {} cannot register it again",
                    decl.name,
                    a.decl.major,
                    a.decl.minor,
                    describe(&a.module, &a.family, &a.file),
                    describe(&module_name, &family, &file)
                ),
            )),
        }
    };
    already(&REGISTRY.lock())?;

    // The lock is not held across HPy calls (they may run Python code); the check is repeated below.
    let published = Published::new(&decl, home);
    // SAFETY: `home` is the provider's home context (valid for calls unless in CPython's debug
    // mode, where the stubs enter it properly on every call).
    let stubs = unsafe { FallbackStubs::new(&decl, &family, home)? };
    let capi = Published::capi(&stubs.decl);
    // SAFETY: `ctx` is valid for the current call and `module` lives in it; the capsules point into
    // `published` and `capi`, which are registered or leaked below, so they outlive the capsules.
    unsafe {
        publish(ctx, module, &attribute_name(&decl.name), &published)?;
        publish(ctx, module, &capi_attribute_name(&decl.name), &capi)?;
    }
    let decl_name = decl.name.clone();
    let mut apis = REGISTRY.lock();
    if let Err(e) = already(&apis) {
        // The capsules on the module point into the tables, and those to the stubs: they must
        // outlive the module.
        Box::leak(published);
        Box::leak(capi);
        std::mem::forget(stubs);
        return Err(e);
    }
    apis.push(Api {
        decl,
        module: module_name,
        family,
        file,
        published,
        consumers: Vec::new(),
        plans: Default::default(),
        capi: Capi { stubs, published: capi, consumers: Vec::new() },
        info,
    });
    drop(apis);
    // SAFETY: `ctx` is valid for the current call and `module` lives in it.
    unsafe { add_to_cdict(ctx, module, &decl_name) }
}

/// Adds the API `api` to `module.__cdict__` (made if missing) through
/// `hpybridge.cdict._exported(module, api)`, which only records the name: the entries are made on
/// first use, so no runtime function runs here, inside the provider's module initialisation.
///
/// # Safety
/// `ctx` must be valid for the current call and `module` a live handle in it.
unsafe fn add_to_cdict(ctx: *mut HPyContext, module: HPy, api: &str) -> Result<()> {
    // SAFETY: `ctx` is valid for the current call and `module` lives in it; every handle made here
    // is closed once.
    unsafe {
        let cdict = check(hpy!(ctx, ctx_Import_ImportModule, c"hpybridge.cdict".as_ptr()))?;
        let f = hpy!(ctx, ctx_GetAttr_s, cdict, c"_exported".as_ptr());
        close(ctx, cdict);
        let f = check(f)?;
        let name = match unicode(ctx, api) {
            Ok(name) => name,
            Err(e) => {
                close(ctx, f);
                return Err(e);
            }
        };
        let mut items = [module, name];
        let args = hpy!(ctx, ctx_Tuple_FromArray, items.as_mut_ptr(), 2);
        let result = if args.is_null() { args } else { hpy!(ctx, ctx_CallTupleDict, f, args, HPy_NULL) };
        close(ctx, args);
        close(ctx, name);
        close(ctx, f);
        check(result).map(|r| close(ctx, r))
    }
}

/// Sets `module`'s attribute `attr` to a capsule holding `published`'s API table.
///
/// # Safety
/// `ctx` must be valid for the current call and `module` a live handle in it; `published` must
/// outlive the capsule.
unsafe fn publish(ctx: *mut HPyContext, module: HPy, attr: &CStr, published: &Published) -> Result<()> {
    // SAFETY: `ctx` is valid for the current call and `module` lives in it; the capsule is closed once.
    unsafe {
        let capsule = check(hpy!(
            ctx,
            ctx_Capsule_New,
            (&published.table as *const HPyBridge_APITable).cast_mut().cast(),
            published.capsule_name.as_ptr(),
            std::ptr::null_mut()
        ))?;
        let rc = hpy!(ctx, ctx_SetAttr_s, module, attr.as_ptr(), capsule);
        close(ctx, capsule);
        if rc < 0 {
            return Err(Error::Set);
        }
    }
    Ok(())
}
