//! The functions `hpybridge._runtime` offers Python (defined as methods in module.c).

use crate::context::Family;
use crate::errors::{raise, PyError};
use capsules::signature::Signature;
use crate::hpycall::{self, context_name, set_item_consume, unicode, Builder};
use crate::registry::REGISTRY;
use crate::hpy;
use hpy_sys::{HPy, HPyContext, HPy_NULL, HPY_ABI, HPY_ABI_VERSION, HPY_ABI_VERSION_MINOR, HPY_VERSION};
use std::ffi::CStr;

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
        .map(|a| (a.decl.clone(), a.module.clone(), a.family.clone(), a.file.clone(), a.consumers.clone()))
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
            && b.set(d, c"slots", b.list(decl.slots.iter().map(|s| {
                let sd = b.dict();
                let ok = b.set(sd, c"name", b.str(&s.name)) && b.set(sd, c"signature", b.str(&s.signature.to_canonical()));
                if ok { sd } else { hpycall::close(ctx, sd); HPy_NULL }
            })))
            && b.set(d, c"consumers", b.list(consumers.iter().map(|c| {
                let cd = b.dict();
                let ok = b.set(cd, c"module", b.opt_str(c.module()))
                    && b.set(cd, c"file", b.opt_str(c.file.as_deref()))
                    && b.set(cd, c"family", b.str(&c.family.to_string()))
                    && b.set(cd, c"mode", b.opt_str(c.family.mode().map(|m| m.as_str())))
                    && b.set(cd, c"version", b.str(&format!("{}.{}", decl.major, c.minor)))
                    && b.set(cd, c"slots", b.int(c.slots as i64))
                    && b.set(cd, c"imports", b.int(c.imports as i64));
                if ok { cd } else { hpycall::close(ctx, cd); HPy_NULL }
            })));
        if ok { d } else { hpycall::close(ctx, d); HPy_NULL }
    }))
}

/// The module's exec slot: publishes the runtime's own API.
#[no_mangle]
pub unsafe extern "C" fn hpybridge_exec(ctx: *mut HPyContext, module: HPy) -> i32 {
    crate::runtime_api::publish(ctx, module)
}
