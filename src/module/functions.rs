//! The functions `hpybridge._runtime` offers Python (defined as methods in module.c).

use crate::crossing::family::Family;
use crate::hpy::error::{raise, PyError};
use crate::hpy;
use crate::hpy::context::context_name;
use crate::hpy::values::{self as hpycall, set_item_consume, unicode, Builder};
use crate::registry::{module_of_file, REGISTRY};
use crate::crossing::plan::trampolines;
use crate::crossing::table::COUNTING;
use capsules::signature::Signature;
use hpy_sys::{HPy, HPyContext, HPy_NULL, HPY_ABI, HPY_ABI_VERSION, HPY_ABI_VERSION_MINOR, HPY_VERSION};
use std::ffi::CStr;
use std::sync::atomic::Ordering;

fn cstr(bytes: &'static [u8]) -> &'static str {
    CStr::from_bytes_with_nul(bytes).ok().and_then(|c| c.to_str().ok()).unwrap_or("?")
}

/// `abi_info()`: what this runtime is and which context it was called in.
#[no_mangle]
pub unsafe extern "C" fn hpybridge_abi_info(ctx: *mut HPyContext) -> HPy {
    let family = Family::of(ctx);
    let entries: [(&CStr, String); 8] = [
        (c"hpybridge_version", env!("CARGO_PKG_VERSION").to_owned()),
        (c"hpy_version", cstr(HPY_VERSION).to_owned()),
        (c"hpy_abi", cstr(HPY_ABI).to_owned()),
        (c"hpy_abi_version", format!("{HPY_ABI_VERSION}.{HPY_ABI_VERSION_MINOR}")),
        (c"context_name", context_name(ctx).to_string_lossy().into_owned()),
        (c"mode", family.mode().map_or("unknown", |m| m.as_str()).to_owned()),
        (c"interpreter", family.interpreter().map_or("unknown", |i| i.as_str()).to_owned()),
        (c"family", family.to_string()),
    ];
    let dict = hpy!(ctx, ctx_Dict_New);
    if dict.is_null() {
        return HPy_NULL;
    }
    for (key, value) in entries {
        if !set_item_consume(ctx, dict, key, unicode(ctx, &value)) {
            hpycall::close(ctx, dict);
            return HPy_NULL;
        }
    }
    dict
}

/// `parse_signature(text)`: the canonical spelling, or `SignatureSyntaxError` pointing at the fault.
#[no_mangle]
pub unsafe extern "C" fn hpybridge_parse_signature(ctx: *mut HPyContext, text: HPy) -> HPy {
    let Some(text) = hpycall::str_arg(ctx, text, "parse_signature()") else {
        return HPy_NULL;
    };
    match Signature::parse(&text) {
        Ok(sig) => unicode(ctx, &sig.to_canonical()),
        Err(e) => {
            raise(ctx, PyError::SignatureSyntaxError, &format!("{e}\n{}", e.caret()));
            HPy_NULL
        }
    }
}

/// `apis()`: every registered API, its provider and its consumers, as a list of dicts.
#[no_mangle]
pub unsafe extern "C" fn hpybridge_apis(ctx: *mut HPyContext) -> HPy {
    let b = Builder(ctx);
    let apis = REGISTRY.lock();
    // Snapshot under the lock, build Python objects after it: building may run Python code.
    let snapshot: Vec<_> = apis
        .iter()
        .map(|a| {
            let consumers: Vec<_> = a
                .consumers
                .iter()
                .map(|c| (c.file.clone(), c.family.clone(), c.minor, c.table.addresses(), c.imports))
                .collect();
            (a.decl.clone(), a.module.clone(), a.family.clone(), a.file.clone(), consumers)
        })
        .collect();
    drop(apis);
    b.list(snapshot.into_iter().map(|(decl, module, family, file, consumers)| {
        let d = b.dict();
        let ok = b.set(d, c"name", b.str(&decl.name))
            && b.set(d, c"version", b.str(&format!("{}.{}", decl.major, decl.minor)))
            && b.set(d, c"module", b.str(&module))
            && b.set(d, c"family", b.str(&family.to_string()))
            && b.set(d, c"mode", b.opt_str(family.mode().map(|m| m.as_str())))
            && b.set(d, c"file", b.opt_str(file.as_deref()))
            && b.set(
                d,
                c"slots",
                b.list(decl.slots.iter().map(|s| {
                    let sd = b.dict();
                    let ok = b.set(sd, c"name", b.str(&s.name))
                        && b.set(sd, c"signature", b.str(&s.signature.to_canonical()));
                    if ok {
                        sd
                    } else {
                        hpycall::close(ctx, sd);
                        HPy_NULL
                    }
                })),
            )
            && b.set(
                d,
                c"consumers",
                b.list(consumers.iter().map(|(file, family, minor, entries, imports)| {
                    let cd = b.dict();
                    let ok = b.set(cd, c"module", b.opt_str(module_of_file(file.as_deref())))
                        && b.set(cd, c"file", b.opt_str(file.as_deref()))
                        && b.set(cd, c"family", b.str(&family.to_string()))
                        && b.set(cd, c"mode", b.opt_str(family.mode().map(|m| m.as_str())))
                        && b.set(cd, c"version", b.str(&format!("{}.{minor}", decl.major)))
                        && b.set(cd, c"slots", b.int(entries.len() as i64))
                        && b.set(cd, c"imports", b.int(*imports as i64))
                        && b.set(cd, c"table", b.list(entries.iter().map(|&e| b.int(e as i64))));
                    if ok {
                        cd
                    } else {
                        hpycall::close(ctx, cd);
                        HPy_NULL
                    }
                })),
            );
        if ok {
            d
        } else {
            hpycall::close(ctx, d);
            HPy_NULL
        }
    }))
}

/// `count_calls(on)`: routes every table's calls through counting stubs (or back); returns whether
/// counting was on. Switching on starts the counts from zero.
#[no_mangle]
pub unsafe extern "C" fn hpybridge_count_calls(ctx: *mut HPyContext, on: HPy) -> HPy {
    let on = match hpy!(ctx, ctx_IsTrue, on) {
        -1 => return HPy_NULL,
        v => v != 0,
    };
    let mut apis = REGISTRY.lock();
    let was = COUNTING.swap(on, Ordering::AcqRel);
    for api in apis.iter_mut() {
        let signatures: Vec<_> = api.decl.slots.iter().map(|s| s.signature.clone()).collect();
        for consumer in api.consumers.iter_mut() {
            if on && !was {
                consumer.table.reset_counts();
            }
            if let Err(why) = consumer.table.set_counting(on, &signatures) {
                drop(apis);
                hpycall::set_error(ctx, (*ctx).h_RuntimeError, &why);
                return HPy_NULL;
            }
        }
    }
    drop(apis);
    hpy!(ctx, ctx_Bool_FromBool, was)
}

/// `call_counts()`: calls counted per edge (consumer, provider API, function) since counting was
/// switched on.
#[no_mangle]
pub unsafe extern "C" fn hpybridge_call_counts(ctx: *mut HPyContext) -> HPy {
    let b = Builder(ctx);
    let apis = REGISTRY.lock();
    let mut edges = Vec::new();
    for api in apis.iter() {
        for c in api.consumers.iter() {
            for (i, slot) in api.decl.slots.iter().take(c.table.slot_count()).enumerate() {
                edges.push((
                    api.decl.name.clone(),
                    api.module.clone(),
                    api.family.to_string(),
                    slot.name.clone(),
                    c.file.clone(),
                    c.family.to_string(),
                    c.table.calls(i),
                ));
            }
        }
    }
    drop(apis);
    b.list(edges.into_iter().map(|(api, provider, provider_family, function, file, family, calls)| {
        let d = b.dict();
        let ok = b.set(d, c"api", b.str(&api))
            && b.set(d, c"provider", b.str(&provider))
            && b.set(d, c"provider_family", b.str(&provider_family))
            && b.set(d, c"function", b.str(&function))
            && b.set(d, c"consumer", b.opt_str(module_of_file(file.as_deref())))
            && b.set(d, c"consumer_file", b.opt_str(file.as_deref()))
            && b.set(d, c"consumer_family", b.str(&family))
            && b.set(d, c"calls", b.int(calls as i64));
        if ok {
            d
        } else {
            hpycall::close(ctx, d);
            HPy_NULL
        }
    }))
}

/// `trampoline_info()`: the trampoline backend in use and the executable memory it holds.
#[no_mangle]
pub unsafe extern "C" fn hpybridge_trampoline_info(ctx: *mut HPyContext) -> HPy {
    let t = match trampolines() {
        Ok(t) => t,
        Err(why) => {
            hpycall::set_error(ctx, (*ctx).h_ValueError, &why);
            return HPy_NULL;
        }
    };
    let b = Builder(ctx);
    let d = b.dict();
    if b.set(d, c"backend", b.str(t.kind().name())) && b.set(d, c"code_bytes", b.int(t.code_bytes() as i64)) {
        d
    } else {
        hpycall::close(ctx, d);
        HPy_NULL
    }
}

/// The module's exec slot: checks the trampoline backend choice, publishes the runtime's own API.
#[no_mangle]
pub unsafe extern "C" fn hpybridge_exec(ctx: *mut HPyContext, module: HPy) -> i32 {
    if let Err(why) = trampolines() {
        hpycall::set_error(ctx, (*ctx).h_ValueError, &why);
        return -1;
    }
    crate::registry::own_api::publish(ctx, module, crate::module::modinit::home_context())
}
