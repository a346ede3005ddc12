//! The functions `hpybridge._runtime` offers Python (defined as methods in module.c), and its exec
//! slot. Each goes through the FFI boundary (`hpy::boundary`).

use crate::cdict::info::needs_interpreter;
use crate::crossing::family::Family;
use crate::crossing::plan::trampolines;
use crate::crossing::table::{ConsumerTable, COUNTING};
use crate::hpy;
use crate::hpy::boundary::boundary;
use crate::hpy::context::context_name;
use crate::hpy::error::{Error, Exception, PyError, Result};
use crate::hpy::values::{close, int_arg, items, str_arg, Builder};
use crate::registry::import_capi::{import_capi, CapiRequest};
use crate::registry::{module_of_file, REGISTRY};
use capsules::fallback::fallback;
use capsules::foreign::hpy_form;
use capsules::signature::Signature;
use hpy_sys::{HPy, HPyContext, HPY_ABI, HPY_ABI_VERSION, HPY_ABI_VERSION_MINOR, HPY_VERSION};
use std::ffi::{c_int, CStr};
use std::sync::atomic::Ordering;

fn cstr(bytes: &'static [u8]) -> &'static str {
    CStr::from_bytes_with_nul(bytes).ok().and_then(|c| c.to_str().ok()).unwrap_or("?")
}

/// `abi_info()`: what this runtime is and which context it was called in.
///
/// # Safety
/// Called by module.c with the context of the call.
#[no_mangle]
pub unsafe extern "C" fn hpybridge_abi_info(ctx: *mut HPyContext) -> HPy {
    // SAFETY: `ctx` is valid for this call (HPy calls module functions with a valid context).
    unsafe { boundary(ctx, || abi_info(ctx)) }
}

unsafe fn abi_info(ctx: *mut HPyContext) -> Result<HPy> {
    // SAFETY: `ctx` is valid for the current call (for every `unsafe fn` of this file).
    let (family, name) = unsafe { (Family::of(ctx), context_name(ctx).to_string_lossy().into_owned()) };
    let b = Builder(ctx);
    // SAFETY: as above.
    unsafe {
        b.dict([
            (c"hpybridge_version", b.str(env!("CARGO_PKG_VERSION"))),
            (c"hpy_version", b.str(cstr(HPY_VERSION))),
            (c"hpy_abi", b.str(cstr(HPY_ABI))),
            (c"hpy_abi_version", b.str(&format!("{HPY_ABI_VERSION}.{HPY_ABI_VERSION_MINOR}"))),
            (c"context_name", b.str(&name)),
            (c"mode", b.str(family.mode().map_or("unknown", |m| m.as_str()))),
            (c"interpreter", b.str(family.interpreter().map_or("unknown", |i| i.as_str()))),
            (c"family", b.str(&family.to_string())),
        ])
    }
}

/// `parse_signature(text)`: the canonical spelling, or `SignatureSyntaxError` pointing at the fault.
///
/// # Safety
/// Called by module.c with the context of the call and a live handle in it.
#[no_mangle]
pub unsafe extern "C" fn hpybridge_parse_signature(ctx: *mut HPyContext, text: HPy) -> HPy {
    // SAFETY: `ctx` is valid for this call and `text` lives in it.
    unsafe {
        boundary(ctx, || {
            let text = str_arg(ctx, text, "parse_signature()")?;
            let sig = Signature::parse(&text)
                .map_err(|e| Error::new(PyError::SignatureSyntaxError, format!("{e}\n{}", e.caret())))?;
            Builder(ctx).str(&sig.to_canonical())
        })
    }
}

/// `needs_interpreter(text)`: the first type of the signature that needs the interpreter, hence the
/// GIL (`HPyContext *`, `HPy`, `PyObject *`, a pointer to handles), or None: the rule `FLAG_NOGIL`
/// is checked by (`cdict::info`), for the generator to check a spec's `nogil` with before any build.
///
/// # Safety
/// Called by module.c with the context of the call and a live handle in it.
#[no_mangle]
pub unsafe extern "C" fn hpybridge_needs_interpreter(ctx: *mut HPyContext, text: HPy) -> HPy {
    // SAFETY: `ctx` is valid for this call and `text` lives in it.
    unsafe {
        boundary(ctx, || {
            let text = str_arg(ctx, text, "needs_interpreter()")?;
            let sig = Signature::parse(&text)
                .map_err(|e| Error::new(PyError::SignatureSyntaxError, format!("{e}\n{}", e.caret())))?;
            Builder(ctx).opt_str(needs_interpreter(&sig).as_deref())
        })
    }
}

/// `qualified_signature(text)`: the canonical spelling with `const` pointer targets kept
/// (`Signature::to_qualified`), or `SignatureSyntaxError`.
///
/// # Safety
/// Called by module.c with the context of the call and a live handle in it.
#[no_mangle]
pub unsafe extern "C" fn hpybridge_qualified_signature(ctx: *mut HPyContext, text: HPy) -> HPy {
    // SAFETY: `ctx` is valid for this call and `text` lives in it.
    unsafe {
        boundary(ctx, || {
            let text = str_arg(ctx, text, "qualified_signature()")?;
            let sig = Signature::parse(&text)
                .map_err(|e| Error::new(PyError::SignatureSyntaxError, format!("{e}\n{}", e.caret())))?;
            Builder(ctx).str(&sig.to_qualified())
        })
    }
}

/// `fallback_signature(text)`: the canonical CPython-API form of an HPy signature
/// (`capsules::fallback`); `NoFallbackError` saying why if it has none.
///
/// # Safety
/// Called by module.c with the context of the call and a live handle in it.
#[no_mangle]
pub unsafe extern "C" fn hpybridge_fallback_signature(ctx: *mut HPyContext, text: HPy) -> HPy {
    // SAFETY: `ctx` is valid for this call and `text` lives in it.
    unsafe {
        boundary(ctx, || {
            let text = str_arg(ctx, text, "fallback_signature()")?;
            let sig = Signature::parse(&text)
                .map_err(|e| Error::new(PyError::SignatureSyntaxError, format!("{e}\n{}", e.caret())))?;
            let form = fallback(&sig).map_err(|e| Error::new(PyError::NoFallbackError, e.to_string()))?;
            Builder(ctx).str(&form.to_canonical())
        })
    }
}

/// `foreign_signature(text)`: the canonical HPy form of a foreign C-API signature
/// (`capsules::foreign`); `ValueError` saying why if it has none.
///
/// # Safety
/// Called by module.c with the context of the call and a live handle in it.
#[no_mangle]
pub unsafe extern "C" fn hpybridge_foreign_signature(ctx: *mut HPyContext, text: HPy) -> HPy {
    // SAFETY: `ctx` is valid for this call and `text` lives in it.
    unsafe {
        boundary(ctx, || {
            let text = str_arg(ctx, text, "foreign_signature()")?;
            let sig = Signature::parse(&text)
                .map_err(|e| Error::new(PyError::SignatureSyntaxError, format!("{e}\n{}", e.caret())))?;
            let form = hpy_form(&sig).map_err(|e| Error::new(Exception::ValueError, e.to_string()))?;
            Builder(ctx).str(&form.to_canonical())
        })
    }
}

/// `import_capi(module, api, major, minor, slots, at)`: what `import_<api>_capi()` of a generated
/// `<api>_capi.h` calls (see `registry::import_capi`): `slots` is a tuple of (name, CPython-API
/// signature) pairs, `at` an address in the consumer's shared object. Returns the address of the
/// table of stubs, as an int.
///
/// # Safety
/// Called by module.c with the context of the call and `n` live handles at `args`.
#[no_mangle]
pub unsafe extern "C" fn hpybridge_import_capi(ctx: *mut HPyContext, args: *const HPy, n: usize) -> HPy {
    // SAFETY: `ctx` is valid for this call and `args` holds `n` live handles of it.
    unsafe {
        boundary(ctx, || {
            let usage = "import_capi(module, api, major, minor, slots, at)";
            let args = std::slice::from_raw_parts(args, n);
            let [module, api, major, minor, slots, at] = args else {
                return Err(Error::new(Exception::TypeError, format!("{usage}: expected 6 arguments, found {n}")));
            };
            let version = |h: HPy, what: &str| -> Result<u32> {
                let v = int_arg(ctx, h, what)?;
                u32::try_from(v)
                    .map_err(|_| Error::new(Exception::ValueError, format!("{what}: expected 0 to 2**32-1, found {v}")))
            };
            let mut pairs = Vec::new();
            for item in items(ctx, *slots, "import_capi() slots")? {
                let pair = items(ctx, item, "import_capi() slot");
                close(ctx, item);
                let pair = pair?;
                let texts = match pair.as_slice() {
                    [name, sig] => Ok((str_arg(ctx, *name, "slot name"), str_arg(ctx, *sig, "slot signature"))),
                    _ => Err(Error::new(Exception::TypeError, "import_capi() slot: expected a (name, signature) pair")),
                };
                pair.iter().for_each(|&h| close(ctx, h));
                let (name, sig) = texts?;
                pairs.push((name?, sig?));
            }
            let request = CapiRequest {
                module: str_arg(ctx, *module, "import_capi() module")?,
                api: str_arg(ctx, *api, "import_capi() api")?,
                major: version(*major, "import_capi() major")?,
                minor: version(*minor, "import_capi() minor")?,
                slots: pairs,
                at: int_arg(ctx, *at, "import_capi() at")? as usize,
            };
            let table = import_capi(ctx, request)?;
            Builder(ctx).int(table as i64)
        })
    }
}

/// `apis()`: every registered API, its provider and its consumers, as a list of dicts.
///
/// # Safety
/// Called by module.c with the context of the call.
#[no_mangle]
pub unsafe extern "C" fn hpybridge_apis(ctx: *mut HPyContext) -> HPy {
    // SAFETY: `ctx` is valid for this call.
    unsafe { boundary(ctx, || apis(ctx)) }
}

unsafe fn apis(ctx: *mut HPyContext) -> Result<HPy> {
    // A snapshot under the lock; Python objects are built after it, since building may run Python code.
    let snapshot: Vec<_> = REGISTRY
        .lock()
        .iter()
        .map(|a| {
            let consumers: Vec<_> = a
                .consumers
                .iter()
                .map(|c| (c.file.clone(), c.family.clone(), c.minor, c.table.addresses(), c.imports))
                .collect();
            let capi_slots: Vec<_> = a
                .capi
                .stubs
                .decl
                .slots
                .iter()
                .zip(&a.capi.stubs.missing)
                .map(|(s, missing)| (s.name.clone(), s.signature.to_canonical(), missing.clone()))
                .collect();
            let capi_consumers: Vec<_> =
                a.capi.consumers.iter().map(|c| (c.file.clone(), c.minor, c.slots, c.imports)).collect();
            (
                a.decl.clone(),
                a.module.clone(),
                a.family.clone(),
                a.file.clone(),
                consumers,
                (capi_slots, capi_consumers),
            )
        })
        .collect();
    let b = Builder(ctx);
    // SAFETY: `ctx` is valid for the current call.
    unsafe {
        b.list(snapshot.into_iter().map(|(decl, module, family, file, consumers, (capi_slots, capi_consumers))| {
            b.dict([
                (c"name", b.str(&decl.name)),
                (c"version", b.str(&format!("{}.{}", decl.major, decl.minor))),
                (c"module", b.str(&module)),
                (c"family", b.str(&family.to_string())),
                (c"mode", b.opt_str(family.mode().map(|m| m.as_str()))),
                (c"file", b.opt_str(file.as_deref())),
                (
                    c"slots",
                    b.list(decl.slots.iter().map(|s| {
                        b.dict([(c"name", b.str(&s.name)), (c"signature", b.str(&s.signature.to_canonical()))])
                    })),
                ),
                (
                    c"consumers",
                    b.list(consumers.iter().map(|(file, family, minor, addresses, imports)| {
                        b.dict([
                            (c"module", b.opt_str(module_of_file(file.as_deref()))),
                            (c"file", b.opt_str(file.as_deref())),
                            (c"family", b.str(&family.to_string())),
                            (c"mode", b.opt_str(family.mode().map(|m| m.as_str()))),
                            (c"version", b.str(&format!("{}.{minor}", decl.major))),
                            (c"slots", b.int(addresses.len() as i64)),
                            (c"imports", b.int(*imports as i64)),
                            (c"table", b.list(addresses.iter().map(|&a| b.int(a as i64)))),
                        ])
                    })),
                ),
                (
                    c"capi_slots",
                    b.list(capi_slots.iter().map(|(name, signature, missing)| {
                        b.dict([
                            (c"name", b.str(name)),
                            (c"signature", b.str(signature)),
                            (c"missing", b.opt_str(missing.as_deref())),
                        ])
                    })),
                ),
                (
                    c"capi_consumers",
                    b.list(capi_consumers.iter().map(|(file, minor, slots, imports)| {
                        b.dict([
                            (c"module", b.opt_str(module_of_file(file.as_deref()))),
                            (c"file", b.opt_str(file.as_deref())),
                            (c"version", b.str(&format!("{}.{minor}", decl.major))),
                            (c"slots", b.int(*slots as i64)),
                            (c"imports", b.int(*imports as i64)),
                        ])
                    })),
                ),
            ])
        }))
    }
}

/// `count_calls(on)`: routes every consumer table's calls through counting stubs (or back);
/// returns whether counting was on. Switching on starts the counts from zero.
///
/// # Safety
/// Called by module.c with the context of the call and a live handle in it.
#[no_mangle]
pub unsafe extern "C" fn hpybridge_count_calls(ctx: *mut HPyContext, on: HPy) -> HPy {
    // SAFETY: `ctx` is valid for this call and `on` lives in it.
    unsafe { boundary(ctx, || count_calls(ctx, on)) }
}

unsafe fn count_calls(ctx: *mut HPyContext, on: HPy) -> Result<HPy> {
    // SAFETY: `ctx` is valid for the current call and `on` lives in it.
    let on = match unsafe { hpy!(ctx, ctx_IsTrue, on) } {
        -1 => return Err(Error::Set),
        v => v != 0,
    };
    let was = {
        let mut apis = REGISTRY.lock();
        let was = COUNTING.swap(on, Ordering::AcqRel);
        for api in apis.iter_mut() {
            let signatures: Vec<_> = api.decl.slots.iter().map(|s| s.signature.clone()).collect();
            // Counts start from zero when counting is switched on.
            let switch = |table: &mut ConsumerTable, signatures: &[Signature]| {
                if on && !was {
                    table.reset_counts();
                }
                table.set_counting(on, signatures)
            };
            for consumer in api.consumers.iter_mut() {
                switch(&mut consumer.table, &signatures)?;
            }
            let capi_signatures = api.capi.stubs.signatures();
            for consumer in api.capi.consumers.iter_mut() {
                switch(&mut consumer.table, &capi_signatures)?;
            }
        }
        was
    };
    // SAFETY: `ctx` is valid for the current call.
    unsafe { Builder(ctx).bool(was) }
}

/// `call_counts()`: calls counted per edge (consumer, provider API, function) since counting was
/// switched on.
///
/// # Safety
/// Called by module.c with the context of the call.
#[no_mangle]
pub unsafe extern "C" fn hpybridge_call_counts(ctx: *mut HPyContext) -> HPy {
    // SAFETY: `ctx` is valid for this call.
    unsafe { boundary(ctx, || call_counts(ctx)) }
}

unsafe fn call_counts(ctx: *mut HPyContext) -> Result<HPy> {
    let mut edges = Vec::new();
    for api in REGISTRY.lock().iter() {
        // One edge per slot of a consumer's table: (api, provider, provider family, function,
        // consumer file, consumer family, calls).
        let edges_of = |table: &ConsumerTable, file: &Option<String>, family: String| {
            let slots = api.decl.slots.iter().take(table.slot_count()).enumerate();
            slots
                .map(|(i, slot)| {
                    let provider = (api.decl.name.clone(), api.module.clone(), api.family.to_string());
                    (provider, slot.name.clone(), file.clone(), family.clone(), table.calls(i))
                })
                .collect::<Vec<_>>()
        };
        for c in api.consumers.iter() {
            edges.extend(edges_of(&c.table, &c.file, c.family.to_string()));
        }
        // C-API consumers (C, Cython, PyO3) through the CPython-API stubs (the same slot names).
        for c in api.capi.consumers.iter() {
            edges.extend(edges_of(&c.table, &c.file, "C-API".to_owned()));
        }
    }
    let b = Builder(ctx);
    // SAFETY: `ctx` is valid for the current call.
    unsafe {
        b.list(edges.into_iter().map(|((api, provider, provider_family), function, file, family, calls)| {
            b.dict([
                (c"api", b.str(&api)),
                (c"provider", b.str(&provider)),
                (c"provider_family", b.str(&provider_family)),
                (c"function", b.str(&function)),
                (c"consumer", b.opt_str(module_of_file(file.as_deref()))),
                (c"consumer_file", b.opt_str(file.as_deref())),
                (c"consumer_family", b.str(&family)),
                (c"calls", b.int(calls as i64)),
            ])
        }))
    }
}

/// `trampoline_info()`: the trampoline backend in use and the executable memory it holds.
///
/// # Safety
/// Called by module.c with the context of the call.
#[no_mangle]
pub unsafe extern "C" fn hpybridge_trampoline_info(ctx: *mut HPyContext) -> HPy {
    // SAFETY: `ctx` is valid for this call.
    unsafe {
        boundary(ctx, || {
            let t = trampolines()?;
            let b = Builder(ctx);
            b.dict([(c"backend", b.str(t.kind().name())), (c"code_bytes", b.int(t.code_bytes() as i64))])
        })
    }
}

extern "C" {
    /// Defined in cfunction.c: adds the type `CFunction` to the module.
    fn hpybridge_cfunction_add_type(ctx: *mut HPyContext, module: HPy) -> c_int;
}

/// The module's exec slot: checks the trampoline backend choice, adds the `CFunction` type, publishes the runtime's own API.
///
/// # Safety
/// Called by module.c with the context of the call and the module being executed.
#[no_mangle]
pub unsafe extern "C" fn hpybridge_exec(ctx: *mut HPyContext, module: HPy) -> c_int {
    // SAFETY: `ctx` is valid for this call and `module` lives in it.
    unsafe {
        boundary(ctx, || {
            trampolines()?;
            if hpybridge_cfunction_add_type(ctx, module) < 0 {
                return Err(Error::Set);
            }
            crate::registry::own_api::publish(ctx, module, crate::module::modinit::home_context())?;
            Ok(0)
        })
    }
}
