//! `cdict_lookup`: a C consumer asks an object for a `__cdict__` entry by name and signature and
//! gets a function pointer valid for its own context family (docs/cdict.md §7): the provider's own
//! function in the same family, else what an API table slot would hold for that consumer family
//! (`crossing::plan`: a context swap or a translating trampoline), made once per entry and family;
//! for an adopted foreign function with bound trailing arguments, a binding stub (docs/cdict.md §10);
//! for a module's API entry, what an import of the API would hold (`module_lookup`).
//! NULL without an exception if the object has no such entry. Answers are cached per thread and
//! type where that is safe (`lookup_cache`).

use crate::crossing::family::Family;
use crate::crossing::plan::trampolines;
use crate::crossing::plan::CallPlans;
use crate::hpy;
use crate::hpy::boundary::boundary;
use crate::hpy::error::{Error, Exception, PyError, Result};
use crate::hpy::values::close;
use crate::registry::lookup_cache::{fill, fill_site, probe, Probe, VERSION};
use crate::registry::module_lookup::{module_apis, module_entry};
use crate::registry::object_cdict::{table, text_arg, Bound, ENTRIES, PLANS};
use capsules::signature::Signature;
use capsules::wire::abi::HPyBridge_CDictSite;
use hpy_sys::{HPy, HPyContext};
use parking_lot::RwLock;
use std::collections::HashMap;
use std::ffi::{c_char, c_void};
use std::sync::atomic::Ordering;

/// Canonical spellings of the signatures consumers asked for, by their own spelling.
static CANONICAL: RwLock<Option<HashMap<String, String>>> = RwLock::new(None);

/// `obj`'s entry `name` of `signature` for `ctx`'s family, or NULL (without an exception) if it
/// has none; NULL with an exception for a malformed name or signature, or an entry that cannot be
/// called from `ctx`'s family (`CrossModeError`).
///
/// # Safety
/// `ctx` must be valid for the current call, `obj` a live handle in it, `name` and `signature`
/// null or NUL-terminated strings.
pub unsafe extern "C" fn cdict_lookup(
    ctx: *mut HPyContext,
    obj: HPy,
    name: *const c_char,
    signature: *const c_char,
) -> *const c_void {
    // SAFETY: the caller's contract is `probe`'s, `lookup`'s and `fill`'s.
    unsafe {
        boundary(ctx, || match probe_handle(obj).map(|()| probe(ctx, obj, name, signature))? {
            Probe::Hit(code) => Ok(code),
            Probe::Miss(key) => {
                let code = lookup(ctx, obj, name, signature)?;
                if let Some(key) = key {
                    fill(ctx, obj, key, code);
                }
                Ok(code)
            }
        })
    }
}

/// `cdict_lookup`, for a consumer's call site (`HPyBridge_CDictLookupAt`, runtime API 1.3): the same
/// answer, and `site` filled with it when it holds for every instance of `obj`'s type
/// (`lookup_cache::fill_site`), so the consumer answers the next lookups inline.
///
/// # Safety
/// As `cdict_lookup`; `site` null or a consumer's site, valid for writes.
pub unsafe extern "C" fn cdict_lookup_site(
    ctx: *mut HPyContext,
    obj: HPy,
    name: *const c_char,
    signature: *const c_char,
    site: *mut HPyBridge_CDictSite,
) -> *const c_void {
    // Read before the lookup: a change made meanwhile leaves the site stale, never wrong.
    let version = VERSION.load(Ordering::Acquire);
    // SAFETY: the caller's contract is `cdict_lookup`'s and `fill_site`'s; a failed lookup (NULL
    // with an exception) fills nothing.
    unsafe {
        let code = cdict_lookup(ctx, obj, name, signature);
        if !code.is_null() || hpy!(ctx, ctx_Err_Occurred) == 0 {
            boundary(ctx, || {
                fill_site(ctx, obj, site, version, code);
                Ok(code)
            })
        } else {
            code
        }
    }
}

/// A `SystemError` for `HPy_NULL` (a consumer's bug: there is no object to ask).
pub fn probe_handle(obj: HPy) -> Result<()> {
    if obj.is_null() {
        return Err(Error::new(
            Exception::SystemError,
            "HPyBridge_CDictLookup() or HPyBridge_CDictSet(): obj is HPy_NULL",
        ));
    }
    Ok(())
}

/// The canonical spelling of `text`, parsed once per spelling.
fn canonical(text: &str) -> Result<String> {
    if let Some(c) = CANONICAL.read().as_ref().and_then(|m| m.get(text)) {
        return Ok(c.clone());
    }
    let c = Signature::parse(text)
        .map_err(|e| {
            Error::new(PyError::SignatureSyntaxError, format!("HPyBridge_CDictLookup(): signature \"{text}\": {e}"))
        })?
        .to_canonical();
    CANONICAL.write().get_or_insert_with(HashMap::new).insert(text.to_owned(), c.clone());
    Ok(c)
}

/// `cdict_lookup` below the boundary.
///
/// # Safety
/// As `cdict_lookup`.
unsafe fn lookup(
    ctx: *mut HPyContext,
    obj: HPy,
    name: *const c_char,
    signature: *const c_char,
) -> Result<*const c_void> {
    const CALL: &str = "HPyBridge_CDictLookup()";
    // SAFETY: the caller's contract.
    let (name, text) = unsafe { (text_arg(name, CALL, "the name")?, text_arg(signature, CALL, "the signature")?) };
    let canonical = canonical(&text)?;
    // SAFETY: `ctx` is valid for the current call and `obj` lives in it.
    let number = match unsafe { source_of(ctx, obj) } {
        None => return Ok(std::ptr::null()),
        Some(Source::Table(number)) => number,
        Some(Source::Module(apis)) => {
            // SAFETY: `ctx` is valid for the current call.
            let consumer = unsafe { Family::of(ctx) };
            // SAFETY: as above, and `consumer` is its family.
            return unsafe { module_entry(ctx, &apis, &name, &canonical, &consumer, CALL) };
        }
    };
    let Some(&index) = table(number)?.get(&(name.clone(), canonical)) else { return Ok(std::ptr::null()) };
    let entry = ENTRIES.read()[index].clone();
    // SAFETY: `ctx` is valid for the current call.
    let consumer = unsafe { Family::of(ctx) };
    if let Some(bound) = &entry.bound {
        return binding_stub(bound, entry.function).map_err(|e| {
            e.wrapped(PyError::CrossModeError, |why| {
                format!(
                    "{CALL}: entry '{name}' \"{}\" is a foreign function whose runtime binds {}: no binding stub: {why}",
                    entry.signature, bound.text
                )
            })
        });
    }
    // A function without a context (adopted, or a CPython-API stub) is the same for every consumer.
    let Some(family) = entry.family.as_ref().filter(|f| **f != consumer) else { return Ok(entry.function) };
    let mut plans = PLANS.lock();
    // SAFETY: `entry.home` is the provider's home context and `ctx` is valid now.
    let code = unsafe {
        plans.get_or_insert_with(CallPlans::default).slot_code(
            index,
            &entry.signature,
            entry.function,
            family,
            entry.home,
            &consumer,
            ctx,
        )
    };
    code.map_err(|e| {
        e.wrapped(PyError::CrossModeError, |why| {
            format!("{CALL}: entry '{name}' cannot be called from {consumer} into {family}: {why}")
        })
    })
}

/// The function of the entry's visible signature that calls `function` with the bound words
/// after its arguments: made on the first lookup, under `PLANS`'s lock, and kept for the process.
fn binding_stub(bound: &Bound, function: *const c_void) -> Result<*const c_void> {
    if let Some(&code) = bound.stub.get() {
        return Ok(code as *const c_void);
    }
    let _plans = PLANS.lock();
    if let Some(&code) = bound.stub.get() {
        return Ok(code as *const c_void);
    }
    let code = trampolines()?
        .bind_last(&bound.full, function, &bound.words)
        .map_err(|e| Error::new(Exception::RuntimeError, e.to_string()))?;
    Ok(*bound.stub.get_or_init(|| code as usize) as *const c_void)
}

/// Where `obj.__cdict__`'s entries are.
enum Source {
    /// A mapping made by `cdict_set` (`ObjectCDict`): its lookup table's number.
    Table(usize),
    /// A module's `__cdict__` of its exported APIs (`ModuleCDict`): their names (`module_lookup`).
    Module(Vec<String>),
}

/// Where the entries of `obj.__cdict__` (its own, else its type's, by the MRO) are, if it is a
/// mapping the runtime made; any error on the way is cleared (the object has no entries).
///
/// # Safety
/// `ctx` must be valid for the current call and `obj` a live handle in it.
unsafe fn source_of(ctx: *mut HPyContext, obj: HPy) -> Option<Source> {
    // SAFETY: the caller's contract; every handle made here is closed once.
    unsafe {
        let cdict = hpy!(ctx, ctx_GetAttr_s, obj, c"__cdict__".as_ptr());
        if cdict.is_null() {
            hpy!(ctx, ctx_Err_Clear);
            return None;
        }
        let number = hpy!(ctx, ctx_GetAttr_s, cdict, c"_table".as_ptr());
        if number.is_null() {
            hpy!(ctx, ctx_Err_Clear);
            let apis = module_apis(ctx, cdict);
            close(ctx, cdict);
            return apis.map(Source::Module);
        }
        close(ctx, cdict);
        let n = if hpy!(ctx, ctx_TypeCheck, number, (*ctx).h_LongType) != 0 {
            hpy!(ctx, ctx_Long_AsSsize_t, number)
        } else {
            -1
        };
        close(ctx, number);
        if n < 0 {
            hpy!(ctx, ctx_Err_Clear);
            return None;
        }
        Some(Source::Table(n as usize))
    }
}
