//! The `__cdict__` functions `hpybridge._runtime` offers Python (defined as methods in module.c):
//! `cdict_entries`, `cdict_call`, `box`, `unbox`, `lookup_cache_info`. Each goes through the FFI boundary.

use crate::cdict::boxing::{boxed, unboxed};
use crate::cdict::dispatch::call;
use crate::cdict::entries::{api_entries, implementation};
use crate::hpy;
use crate::hpy::boundary::boundary;
use crate::hpy::error::{check, Error, Exception, Result};
use crate::hpy::values::{close, fixed_args, int_arg, str_arg, Builder};
use crate::registry::lookup_cache;
use hpy_sys::{HPy, HPyContext};

/// `cdict_entries(api)`: the entries of the registered API `api`, in slot order, as a list of
/// `(name, implementations, doc)`, each implementation a tuple `(signature, index, family, provider,
/// flags, refused)` (`family` None for a CPython-API stub, `refused` None or why Python cannot
/// call it), `doc` the provider's doc string or None.
///
/// # Safety
/// Called by module.c with the context of the call and a live handle in it.
#[no_mangle]
pub unsafe extern "C" fn hpybridge_cdict_entries(ctx: *mut HPyContext, api: HPy) -> HPy {
    // SAFETY: `ctx` is valid for this call and `api` lives in it.
    unsafe {
        boundary(ctx, || {
            let api = str_arg(ctx, api, "cdict_entries()")?;
            let entries = api_entries(&api)?;
            let b = Builder(ctx);
            b.list(entries.iter().map(|entry| {
                let implementations = entry
                    .implementations
                    .iter()
                    .map(|&index| {
                        let imp = implementation(index)?;
                        b.list([
                            b.str(&imp.signature.to_canonical()),
                            b.int(index as i64),
                            b.opt_str(imp.family.as_ref().map(|f| f.to_string()).as_deref()),
                            b.str(&imp.provider),
                            b.int(i64::from(imp.flags)),
                            b.opt_str(imp.refused.as_deref()),
                        ])
                    })
                    .collect::<Vec<_>>();
                b.list([b.str(&entry.name), b.list(implementations), b.opt_str(entry.doc.as_deref())])
            }))
        })
    }
}

/// `cdict_call(key, *args)`: calls the `CFunction` whose implementations `key` names (an int, the
/// index of its one implementation, or a tuple of them) with `args` (`dispatch::call`). The
/// arguments come as the method's own, which HPy passes as an array: no tuple to unpack.
///
/// # Safety
/// Called by module.c with the context of the call and `n` live handles at `args`.
#[no_mangle]
pub unsafe extern "C" fn hpybridge_cdict_call(ctx: *mut HPyContext, args: *const HPy, n: usize) -> HPy {
    // SAFETY: `ctx` is valid for this call and `args` holds `n` live handles of it.
    unsafe {
        boundary(ctx, || {
            let Some((key, call_args)) = std::slice::from_raw_parts(args, n).split_first() else {
                return Err(Error::new(Exception::TypeError, "cdict_call(key, *args): expected a key"));
            };
            if hpy!(ctx, ctx_TypeCheck, *key, (*ctx).h_LongType) != 0 {
                let index = index_of(int_arg(ctx, *key, "cdict_call() key")?);
                return call(ctx, std::iter::once(index.and_then(implementation)), call_args);
            }
            if hpy!(ctx, ctx_Tuple_Check, *key) == 0 {
                return Err(Error::new(Exception::TypeError, "cdict_call() key: expected an int or a tuple of ints"));
            }
            let n = hpy!(ctx, ctx_Length, *key);
            if n < 0 {
                return Err(Error::Set);
            }
            let index = |i: isize| -> Result<usize> {
                let item = check(hpy!(ctx, ctx_GetItem_i, *key, i))?;
                let index = int_arg(ctx, item, "cdict_call() index");
                close(ctx, item);
                index_of(index?)
            };
            call(ctx, (0..n).map(|i| index(i).and_then(implementation)), call_args)
        })
    }
}

/// `lookup_cache_info()`: what `HPyBridge_CDictLookup`'s cache did so far (`registry::lookup_cache`).
///
/// # Safety
/// Called by module.c with the context of the call.
#[no_mangle]
pub unsafe extern "C" fn hpybridge_lookup_cache_info(ctx: *mut HPyContext) -> HPy {
    // SAFETY: `ctx` is valid for this call.
    unsafe {
        boundary(ctx, || {
            let (hits, fills, kept, debug_modes) = lookup_cache::info();
            let b = Builder(ctx);
            b.dict([
                (c"hits", b.int(hits as i64)),
                (c"fills", b.int(fills as i64)),
                (c"kept", b.list(kept.iter().map(|&ty| b.int(ty as i64)))),
                (c"debug_modes", b.int(debug_modes as i64)),
            ])
        })
    }
}

/// An implementation index from Python (`entries::implementation` checks its upper bound).
pub fn index_of(i: i64) -> Result<usize> {
    usize::try_from(i)
        .map_err(|_| Error::new(Exception::ValueError, format!("no __cdict__ implementation has index {i}")))
}

/// `box(ctype, value)`: the bytes of `value` as a C `ctype` (`cdict::boxing`).
///
/// # Safety
/// Called by module.c with the context of the call and `n` live handles at `args`.
#[no_mangle]
pub unsafe extern "C" fn hpybridge_box(ctx: *mut HPyContext, args: *const HPy, n: usize) -> HPy {
    // SAFETY: `ctx` is valid for this call and `args` holds `n` live handles of it.
    unsafe {
        boundary(ctx, || {
            let [ctype, value] = fixed_args(args, n, "box(ctype, value)")?;
            boxed(ctx, &str_arg(ctx, *ctype, "box() ctype")?, *value)
        })
    }
}

/// `unbox(ctype, data)`: the value of the C `ctype` whose bytes are `data` (`cdict::boxing`).
///
/// # Safety
/// Called by module.c with the context of the call and `n` live handles at `args`.
#[no_mangle]
pub unsafe extern "C" fn hpybridge_unbox(ctx: *mut HPyContext, args: *const HPy, n: usize) -> HPy {
    // SAFETY: `ctx` is valid for this call and `args` holds `n` live handles of it.
    unsafe {
        boundary(ctx, || {
            let [ctype, data] = fixed_args(args, n, "unbox(ctype, data)")?;
            unboxed(ctx, &str_arg(ctx, *ctype, "unbox() ctype")?, *data)
        })
    }
}
