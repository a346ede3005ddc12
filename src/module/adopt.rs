//! The functions behind `hpybridge.cfunction` and `hpybridge.cdict_set` (python/hpybridge/adopt.py,
//! docs/cdict.md §10), defined as methods in module.c: `cdict_adopt` (a foreign C function as an
//! implementation), `capsule_contents` (what a capsule holds: its name, pointer and context) and
//! `cdict_set` (a `CFunction` into an object's `__cdict__`). Each goes through the FFI boundary.

use crate::cdict::adopt::adopt;
use crate::cdict::function::CFunction;
use crate::hpy;
use crate::hpy::boundary::boundary;
use crate::hpy::error::{check, Error, Exception, Result};
use crate::hpy::values::{close, fixed_args, items, str_arg, type_name, Builder};
use crate::registry::cdict_lookup::probe_handle;
use crate::registry::object_cdict::set_function;
use hpy_sys::{_HPyCapsule_key, HPy, HPyContext};
use std::ffi::{c_char, c_void, CStr, CString};

extern "C" {
    /// Defined in cfunction.c: the Rust data of an instance of `CFunction` (checked by the caller).
    fn hpybridge_cfunction_data(ctx: *mut HPyContext, obj: HPy) -> *const c_void;
}

/// An unsigned word (an address, a bound argument) from a Python int, or a `TypeError` naming `what`.
///
/// # Safety
/// `ctx` must be valid for the current call; `h` a live handle in it.
unsafe fn word_arg(ctx: *mut HPyContext, h: HPy, what: &str) -> Result<u64> {
    // SAFETY: `ctx` is valid for the current call and `h` lives in it.
    unsafe {
        if hpy!(ctx, ctx_TypeCheck, h, (*ctx).h_LongType) == 0 {
            return Err(Error::new(
                Exception::TypeError,
                format!("{what}: expected an int, got {}", type_name(ctx, h)),
            ));
        }
        let v = hpy!(ctx, ctx_Long_AsUInt64_t, h);
        if v == u64::MAX && hpy!(ctx, ctx_Err_Occurred) != 0 {
            hpy!(ctx, ctx_Err_Clear);
            return Err(Error::new(Exception::OverflowError, format!("{what}: expected an int from 0 to 2**64-1")));
        }
        Ok(v)
    }
}

/// `cdict_adopt(name, provider, address, signature, bound, flags)`: the index of an implementation
/// of entry `name` by the foreign C function at `address` of `signature`, whose last `len(bound)`
/// parameters are filled in with the ints `bound`, with `flags` (`cdict::adopt`).
///
/// # Safety
/// Called by module.c with the context of the call and `n` live handles at `args`.
#[no_mangle]
pub unsafe extern "C" fn hpybridge_cdict_adopt(ctx: *mut HPyContext, args: *const HPy, n: usize) -> HPy {
    // SAFETY: `ctx` is valid for this call and `args` holds `n` live handles of it.
    unsafe {
        boundary(ctx, || {
            let [name, provider, address, signature, bound, flags] =
                fixed_args(args, n, "cdict_adopt(name, provider, address, signature, bound, flags)")?;
            let name = str_arg(ctx, *name, "cdict_adopt() name")?;
            let provider = str_arg(ctx, *provider, "cdict_adopt() provider")?;
            let address = word_arg(ctx, *address, "cdict_adopt() address")?;
            let signature = str_arg(ctx, *signature, "cdict_adopt() signature")?;
            let mut words = Vec::new();
            for item in items(ctx, *bound, "cdict_adopt() bound")? {
                let word = word_arg(ctx, item, "cdict_adopt() bound argument");
                close(ctx, item);
                words.push(word?);
            }
            let flags = word_arg(ctx, *flags, "cdict_adopt() flags")?;
            let flags = u32::try_from(flags).map_err(|_| {
                Error::new(
                    Exception::ValueError,
                    format!("cdict_adopt() flags: expected a 32-bit mask, got {flags:#x}"),
                )
            })?;
            let index = adopt(&name, &provider, address, &signature, &words, flags)?;
            Builder(ctx).int(index as i64)
        })
    }
}

/// `capsule_contents(capsule, name)`: `(name, pointer, context)` of a capsule: its own name (None
/// if it has none), and the pointer and context it holds, read with `name` (a str, or None for the
/// capsule's own name). `TypeError` if it is not a capsule, `ValueError` if `name` is not its name.
///
/// # Safety
/// Called by module.c with the context of the call and `n` live handles at `args`.
#[no_mangle]
pub unsafe extern "C" fn hpybridge_capsule_contents(ctx: *mut HPyContext, args: *const HPy, n: usize) -> HPy {
    // SAFETY: `ctx` is valid for this call and `args` holds `n` live handles of it; a capsule's
    // name is a NUL-terminated string it keeps while it lives, and it lives for this call.
    unsafe {
        boundary(ctx, || {
            let [capsule, wanted] = fixed_args(args, n, "capsule_contents(capsule, name)")?;
            let found = type_name(ctx, *capsule);
            if found != "PyCapsule" {
                return Err(Error::new(Exception::TypeError, format!("expected a PyCapsule, got {found}")));
            }
            let own = hpy!(ctx, ctx_Capsule_Get, *capsule, _HPyCapsule_key::HPyCapsule_key_Name, std::ptr::null());
            hpy!(ctx, ctx_Err_Clear); // a capsule without a name has NULL, maybe with an exception
            let own: *const c_char = own.cast_const().cast();
            let own_text = (!own.is_null()).then(|| CStr::from_ptr(own).to_string_lossy().into_owned());
            let wanted_c = if hpy!(ctx, ctx_Is, *wanted, (*ctx).h_None) != 0 {
                None
            } else {
                let text = str_arg(ctx, *wanted, "capsule_contents() name")?;
                Some(CString::new(text).map_err(|_| Error::new(Exception::ValueError, "a name with a NUL byte"))?)
            };
            let name_ptr = wanted_c.as_ref().map_or(own, |c| c.as_ptr());
            if hpy!(ctx, ctx_Capsule_IsValid, *capsule, name_ptr) == 0 {
                hpy!(ctx, ctx_Err_Clear);
                return Err(Error::new(
                    Exception::ValueError,
                    format!(
                        "expected a valid capsule named {:?}, got one named {:?}",
                        wanted_c.as_ref().map(|c| c.to_string_lossy()),
                        own_text
                    ),
                ));
            }
            let pointer = hpy!(ctx, ctx_Capsule_Get, *capsule, _HPyCapsule_key::HPyCapsule_key_Pointer, name_ptr);
            let context = hpy!(ctx, ctx_Capsule_Get, *capsule, _HPyCapsule_key::HPyCapsule_key_Context, name_ptr);
            if hpy!(ctx, ctx_Err_Occurred) != 0 {
                return Err(Error::Set);
            }
            let b = Builder(ctx);
            let fields = [b.opt_str(own_text.as_deref()), b.int(pointer as i64), b.int(context as i64)];
            let mut made = Vec::new();
            let mut failed = None;
            for f in fields {
                match f {
                    Ok(h) => made.push(h),
                    Err(e) => failed = Some(e),
                }
            }
            let result = match failed {
                Some(e) => Err(e),
                None => check(hpy!(ctx, ctx_Tuple_FromArray, made.as_mut_ptr(), made.len() as isize)),
            };
            made.iter().for_each(|&h| close(ctx, h));
            result
        })
    }
}

/// `cdict_set(obj, name, function)`: the implementations of the `CFunction` `function` become
/// entry `name` of `obj`'s own `__cdict__` (`object_cdict::set_function`).
///
/// # Safety
/// Called by module.c with the context of the call, the module and `n` live handles at `args`.
#[no_mangle]
pub unsafe extern "C" fn hpybridge_cdict_set_function(
    ctx: *mut HPyContext,
    module: HPy,
    args: *const HPy,
    n: usize,
) -> HPy {
    // SAFETY: `ctx` is valid for this call; `module` and the `n` handles at `args` live in it; the
    // data of a live `CFunction` instance lives as long as the instance, which `args` holds.
    unsafe {
        boundary(ctx, || {
            let [obj, name, function] = fixed_args(args, n, "cdict_set(obj, name, function)")?;
            probe_handle(*obj)?;
            let name = str_arg(ctx, *name, "cdict_set() name")?;
            let ty = check(hpy!(ctx, ctx_GetAttr_s, module, c"CFunction".as_ptr()))?;
            let is_function = hpy!(ctx, ctx_TypeCheck, *function, ty) != 0;
            close(ctx, ty);
            if !is_function {
                return Err(Error::new(
                    Exception::TypeError,
                    format!(
                        "cdict_set() function: expected a hpybridge.CFunction (hpybridge.cfunction() makes one), got {}",
                        type_name(ctx, *function)
                    ),
                ));
            }
            let data = &*hpybridge_cfunction_data(ctx, *function).cast::<CFunction>();
            set_function(ctx, *obj, &name, data)?;
            check(hpy!(ctx, ctx_Dup, (*ctx).h_None))
        })
    }
}
