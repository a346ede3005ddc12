//! `cdict_set`: entries of a type's or a single object's `__cdict__` (docs/cdict.md §1, §3), added
//! by the provider at run time through `HPyBridge_CDictSet` or the generated
//! `register_<type>_cdict`. Each entry is kept here for the life of the process (consumers keep the
//! pointers a lookup gave them); an object's `__cdict__` holds the number of its *lookup table*, an
//! immutable map from (name, canonical signature) to entries. Adding an entry makes a new table
//! and a new `__cdict__`: a mapping never changes once made, so whatever cached a table stays right.

use crate::cdict::entries::add_implementation;
use crate::cdict::function::CFunction;
use crate::cdict::implementation::Implementation;
use crate::cdict::info::EntryInfo;
use crate::crossing::family::Family;
use crate::crossing::plan::CallPlans;
use crate::hpy;
use crate::hpy::boundary::boundary;
use crate::hpy::error::{check, Error, Exception, PyError, Result};
use crate::hpy::values::{close, int_arg, type_name, unicode};
use crate::registry::cdict_lookup::probe_handle;
use crate::registry::lookup_cache::VERSION;
use crate::registry::{file_of, module_of_file};
use capsules::signature::Signature;
use hpy_sys::{HPy, HPyContext, HPy_NULL};
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};

/// One entry: a C function of a signature, and the family it runs in.
pub struct ObjectEntry {
    pub signature: Signature,
    pub function: *const c_void,
    /// `None`: a function that takes no context (an adopted foreign function, a CPython-API stub),
    /// which every consumer gets as it is.
    pub family: Option<Family>,
    /// The provider's home context (`_ctx_for_trampolines` of the module that set the entry).
    pub home: *mut HPyContext,
    /// The trailing parameters the runtime binds (`Implementation::bound`), if any: then
    /// `function` is not a function of `signature`, and consumers get a binding stub.
    pub bound: Option<Bound>,
}

/// An entry's bound trailing parameters, and the binding stub made for them on the first lookup.
pub struct Bound {
    /// The function's own signature: the entry's and the bound parameters after it.
    pub full: Signature,
    pub words: Box<[u64]>,
    /// What `Implementation::binds` says, for messages.
    pub text: String,
    /// The binding stub (`trampolines::Trampolines::bind_last`), made under `PLANS`'s lock.
    pub stub: OnceLock<usize>,
}

// SAFETY: immutable after construction; the pointers are process-lifetime code and contexts.
unsafe impl Send for ObjectEntry {}
// SAFETY: as above.
unsafe impl Sync for ObjectEntry {}

/// A lookup table: (entry name, canonical signature) to the entry's index in [`ENTRIES`].
pub type Table = HashMap<(String, String), usize>;

/// Every entry set so far; only ever appended to.
pub static ENTRIES: RwLock<Vec<Arc<ObjectEntry>>> = RwLock::new(Vec::new());
/// Every lookup table made so far, by number; only ever appended to.
pub static TABLES: RwLock<Vec<Arc<Table>>> = RwLock::new(Vec::new());
/// What each entry's pointer is for consumers of other families, per (entry index, family).
pub static PLANS: Mutex<Option<CallPlans>> = Mutex::new(None);

/// Adds `function`, of `signature`, as entry `name` of `obj`'s own `__cdict__` (made if missing;
/// an entry of that name and canonical signature is replaced). `home` is the caller's
/// `_ctx_for_trampolines`, the family the function runs in (NULL: `ctx`'s). Returns 0, or -1 with
/// an exception set.
///
/// # Safety
/// `ctx` must be valid for the current call, `obj` a live handle in it, `name` and `signature`
/// null or NUL-terminated strings, `function` null or a function of `signature`, `home` null or
/// the caller's home context.
pub unsafe extern "C" fn cdict_set(
    ctx: *mut HPyContext,
    obj: HPy,
    name: *const c_char,
    signature: *const c_char,
    function: *const c_void,
    home: *mut HPyContext,
) -> c_int {
    // SAFETY: the caller's contract is `cdict_set_ex`'s, without flags or doc.
    unsafe { cdict_set_ex(ctx, obj, name, signature, function, home, 0, std::ptr::null()) }
}

/// `cdict_set` with the entry's flags (0 or `HPYBRIDGE_ENTRY_NOGIL`) and doc string (null: none):
/// runtime API 1.4, `HPyBridge_CDictSetEx` (`cdict::info`).
///
/// # Safety
/// As `cdict_set`; `doc` null or a NUL-terminated string.
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn cdict_set_ex(
    ctx: *mut HPyContext,
    obj: HPy,
    name: *const c_char,
    signature: *const c_char,
    function: *const c_void,
    home: *mut HPyContext,
    flags: u32,
    doc: *const c_char,
) -> c_int {
    // SAFETY: the caller's contract is `set`'s.
    unsafe { boundary(ctx, || set(ctx, obj, name, signature, function, home, flags, doc).map(|()| 0)) }
}

/// A C string argument of `HPyBridge_CDictSet` or `HPyBridge_CDictLookup`, or a `TypeError`.
///
/// # Safety
/// `s` null or a NUL-terminated string.
pub unsafe fn text_arg(s: *const c_char, call: &str, what: &str) -> Result<String> {
    if s.is_null() {
        return Err(Error::new(Exception::TypeError, format!("{call}: {what} is NULL")));
    }
    // SAFETY: non-null, so NUL-terminated (the caller's contract).
    let c = unsafe { CStr::from_ptr(s) };
    c.to_str().map(str::to_owned).map_err(|_| Error::new(Exception::ValueError, format!("{call}: {what} is not UTF-8")))
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// `cdict_set_ex` below the boundary.
///
/// # Safety
/// As `cdict_set_ex`.
#[allow(clippy::too_many_arguments)]
unsafe fn set(
    ctx: *mut HPyContext,
    obj: HPy,
    name: *const c_char,
    signature: *const c_char,
    function: *const c_void,
    home: *mut HPyContext,
    flags: u32,
    doc: *const c_char,
) -> Result<()> {
    const CALL: &str = "HPyBridge_CDictSet()";
    probe_handle(obj)?;
    // SAFETY: the caller's contract.
    let (name, text) = unsafe { (text_arg(name, CALL, "the name")?, text_arg(signature, CALL, "the signature")?) };
    if !is_identifier(&name) {
        return Err(Error::new(Exception::ValueError, format!("{CALL}: entry name {name:?} is not a C identifier")));
    }
    let sig = Signature::parse(&text).map_err(|e| {
        Error::new(PyError::SignatureSyntaxError, format!("{CALL}: entry '{name}' signature \"{text}\": {e}"))
    })?;
    if function.is_null() {
        return Err(Error::new(
            Exception::ValueError,
            format!("{CALL}: entry '{name}' \"{sig}\": the function is NULL"),
        ));
    }
    // SAFETY: `doc` is null or NUL-terminated (the caller's contract).
    let info = unsafe { EntryInfo::new(flags, doc, &format!("{CALL}: entry '{name}'"), &sig)? };
    let home = if home.is_null() { ctx } else { home };
    // SAFETY: `home` is the caller's home context or `ctx`, both live.
    let family = unsafe { Family::of(home) };
    let file = file_of(function);
    let provider = module_of_file(file.as_deref()).unwrap_or("?").to_owned();
    // SAFETY: `ctx` is valid for the current call and `obj` lives in it.
    let owner = unsafe { owner_name(ctx, obj) };
    let imp = Implementation::new(format!("{owner}.{name}"), &sig, function, &provider, Some(family.clone()), home)?
        .with_flags(info.flags);
    let (flags, refused) = (imp.flags, imp.refused.clone());
    let entry = ObjectEntry { signature: sig, function, family: Some(family.clone()), home, bound: None };
    let implementation = add_implementation(imp);
    let about = About {
        family: Some(&family.to_string()),
        provider: &provider,
        flags,
        refused: refused.as_deref(),
        doc: info.doc.as_deref(),
    };
    // SAFETY: the caller's contract.
    unsafe { insert(ctx, obj, &name, entry, implementation, about) }
}

/// What `_set_entry` tells Python about an implementation.
struct About<'a> {
    family: Option<&'a str>,
    provider: &'a str,
    flags: u32,
    refused: Option<&'a str>,
    /// The entry's doc string, if the provider gave one.
    doc: Option<&'a str>,
}

/// Adds `entry`, of implementation `implementation`, as `name` to `obj`'s own `__cdict__`: a new
/// lookup table of its old entries and this one, and a new mapping over it.
///
/// # Safety
/// `ctx` must be valid for the current call and `obj` a live handle in it.
unsafe fn insert(
    ctx: *mut HPyContext,
    obj: HPy,
    name: &str,
    entry: ObjectEntry,
    implementation: usize,
    about: About,
) -> Result<()> {
    let canonical = entry.signature.to_canonical();
    // SAFETY: `ctx` is valid for the current call and `obj` lives in it.
    let old = unsafe { own_table(ctx, obj)? };
    let mut table = match old {
        Some(t) => (*table(t)?).clone(),
        None => Table::new(),
    };
    let index = {
        let mut entries = ENTRIES.write();
        entries.push(Arc::new(entry));
        entries.len() - 1
    };
    table.insert((name.to_owned(), canonical.clone()), index);
    let number = {
        let mut tables = TABLES.write();
        tables.push(Arc::new(table));
        tables.len() - 1
    };
    // SAFETY: `ctx` is valid for the current call and `obj` lives in it.
    let set = unsafe {
        call_python(
            ctx,
            c"_set_entry",
            obj,
            &[
                Value::Int(number as i64),
                Value::Str(name),
                Value::Str(&canonical),
                Value::Int(implementation as i64),
                Value::OptStr(about.family),
                Value::Str(about.provider),
                Value::Int(i64::from(about.flags)),
                Value::OptStr(about.refused),
                Value::OptStr(about.doc),
            ],
        )
    };
    // After `__cdict__` changed: an answer cached by a lookup that began before is stale now
    // (`lookup_cache`).
    VERSION.fetch_add(1, Ordering::AcqRel);
    // SAFETY: `r` is a new handle of `ctx`.
    set.map(|r| unsafe { close(ctx, r) })
}

/// `hpybridge.cdict_set(obj, name, function)`: every implementation of the `CFunction` `function`
/// (an adopted foreign function, another object's entry, a module's) becomes one of entry `name`
/// of `obj`'s own `__cdict__`, as `HPyBridge_CDictSet` would add it: same implementation, same
/// family, so Python calls and C lookups behave as they do on the original.
///
/// # Safety
/// `ctx` must be valid for the current call and `obj` a live handle in it.
pub unsafe fn set_function(ctx: *mut HPyContext, obj: HPy, name: &str, function: &CFunction) -> Result<()> {
    if !is_identifier(name) {
        return Err(Error::new(
            Exception::ValueError,
            format!("cdict_set(): entry name {name:?} is not a C identifier"),
        ));
    }
    for (index, imp) in function.implementations.iter() {
        let entry = ObjectEntry {
            signature: imp.signature.clone(),
            function: imp.function,
            family: imp.family.clone(),
            home: imp.home(),
            bound: imp.binds.as_ref().map(|text| Bound {
                full: imp.full_signature.clone(),
                words: imp.bound().into(),
                text: text.clone(),
                stub: OnceLock::new(),
            }),
        };
        let family = imp.family.as_ref().map(|f| f.to_string());
        let about = About {
            family: family.as_deref(),
            provider: &imp.provider,
            flags: imp.flags,
            refused: imp.refused.as_deref(),
            doc: None,
        };
        // SAFETY: the caller's contract.
        unsafe { insert(ctx, obj, name, entry, *index, about)? };
    }
    Ok(())
}

/// Lookup table number `n`.
pub fn table(n: usize) -> Result<Arc<Table>> {
    TABLES.read().get(n).cloned().ok_or_else(|| Error::new(Exception::ValueError, format!("no __cdict__ table {n}")))
}

/// What `obj` is called in entry names: a type's `__name__`, else its type's name.
///
/// # Safety
/// `ctx` must be valid for the current call and `obj` a live handle in it.
unsafe fn owner_name(ctx: *mut HPyContext, obj: HPy) -> String {
    // SAFETY: the caller's contract.
    unsafe {
        if hpy!(ctx, ctx_TypeCheck, obj, (*ctx).h_TypeType) != 0 {
            if let Some(n) = crate::hpy::values::str_attr(ctx, obj, c"__name__") {
                return n;
            }
        }
        type_name(ctx, obj)
    }
}

/// The number of the lookup table of `obj`'s own `__cdict__`, if it has one made by `cdict_set`
/// (`hpybridge.cdict._own_table(obj)`).
///
/// # Safety
/// `ctx` must be valid for the current call and `obj` a live handle in it.
unsafe fn own_table(ctx: *mut HPyContext, obj: HPy) -> Result<Option<usize>> {
    // SAFETY: the caller's contract; `r` is closed once.
    unsafe {
        let r = call_python(ctx, c"_own_table", obj, &[])?;
        if hpy!(ctx, ctx_Is, r, (*ctx).h_None) != 0 {
            close(ctx, r);
            return Ok(None);
        }
        let n = int_arg(ctx, r, "hpybridge.cdict._own_table()");
        close(ctx, r);
        Ok(Some(n? as usize))
    }
}

/// An argument of `call_python`.
enum Value<'a> {
    Int(i64),
    Str(&'a str),
    OptStr(Option<&'a str>),
}

/// `hpybridge.cdict.<function>(obj, *args)`: a new handle, or the error it raised. Pure Python on
/// the other side: it runs inside the provider's call, maybe in debug mode, where PyPy must not
/// re-enter a debug-mode module.
///
/// # Safety
/// `ctx` must be valid for the current call and `obj` a live handle in it.
unsafe fn call_python(ctx: *mut HPyContext, function: &CStr, obj: HPy, args: &[Value]) -> Result<HPy> {
    // SAFETY: `ctx` is valid for the current call and `obj` lives in it; every handle made here is
    // closed once.
    unsafe {
        let module = check(hpy!(ctx, ctx_Import_ImportModule, c"hpybridge.cdict".as_ptr()))?;
        let f = hpy!(ctx, ctx_GetAttr_s, module, function.as_ptr());
        close(ctx, module);
        let f = check(f)?;
        let mut items = vec![hpy!(ctx, ctx_Dup, obj)];
        let mut failed = false;
        for a in args {
            let h = match a {
                Value::Int(v) => hpy!(ctx, ctx_Long_FromInt64_t, *v),
                Value::Str(s) => unicode(ctx, s).unwrap_or(HPy_NULL),
                Value::OptStr(None) => hpy!(ctx, ctx_Dup, (*ctx).h_None),
                Value::OptStr(Some(s)) => unicode(ctx, s).unwrap_or(HPy_NULL),
            };
            failed |= h.is_null();
            items.push(h);
        }
        let result = if failed {
            HPy_NULL
        } else {
            let t = hpy!(ctx, ctx_Tuple_FromArray, items.as_mut_ptr(), items.len() as isize);
            let r = if t.is_null() { t } else { hpy!(ctx, ctx_CallTupleDict, f, t, HPy_NULL) };
            close(ctx, t);
            r
        };
        items.into_iter().for_each(|h| close(ctx, h));
        close(ctx, f);
        check(result)
    }
}
