//! The functions behind `hpybridge._runtime.CFunction` (defined in cfunction.c): making one
//! (`cdict_function`), calling it (its `HPy_tp_call` slot), its attributes, `repr`, `select`, and
//! freeing its data. An instance holds a `Box<cdict::function::CFunction>`, passed here as `function`.
//! Each goes through the FFI boundary.

use crate::cdict::export::foreign_form;
use crate::cdict::function::CFunction;
use crate::hpy;
use crate::hpy::boundary::{boundary, boundary_without_context};
use crate::hpy::error::{check, Error, Exception, PyError, Result};
use crate::hpy::values::{close, fixed_args, int_arg, items, str_arg, Builder};
use crate::module::cdict::index_of;
use capsules::signature::Signature;
use hpy_sys::{HPy, HPyContext, HPy_NULL};
use std::ffi::{c_int, c_void};

extern "C" {
    /// Defined in cfunction.c: a new instance of `type` holding `function`.
    fn hpybridge_cfunction_new_object(ctx: *mut HPyContext, ty: HPy, function: *const c_void) -> HPy;
}

/// A new `CFunction` instance of `ty` owning `function`; `function` is freed if that fails.
///
/// # Safety
/// `ctx` must be valid for the current call and `ty` the `CFunction` type, a live handle of it.
unsafe fn instance(ctx: *mut HPyContext, ty: HPy, function: CFunction) -> Result<HPy> {
    let raw = Box::into_raw(Box::new(function)).cast_const().cast::<c_void>();
    // SAFETY: the caller's contract; on success the instance owns `raw` (its destroy slot frees it).
    let h = unsafe { hpybridge_cfunction_new_object(ctx, ty, raw) };
    if h.is_null() {
        // SAFETY: `raw` came from `Box::into_raw` above and nothing else holds it.
        drop(unsafe { Box::from_raw(raw.cast_mut().cast::<CFunction>()) });
        return Err(Error::Set);
    }
    Ok(h)
}

/// The data of an instance.
///
/// # Safety
/// `function` must be what `instance` gave an instance that is alive for `'a`.
unsafe fn data<'a>(function: *const c_void) -> &'a CFunction {
    // SAFETY: the caller's contract: a live Box<CFunction>, only ever read.
    unsafe { &*function.cast::<CFunction>() }
}

/// `cdict_function(name, indices, doc)`: the `CFunction` of the implementations `indices` (a tuple
/// of ints from `cdict_entries`), named `name` and described by `doc`.
///
/// # Safety
/// Called by module.c with the context of the call, the module and `n` live handles at `args`.
#[no_mangle]
pub unsafe extern "C" fn hpybridge_cdict_function(
    ctx: *mut HPyContext,
    module: HPy,
    args: *const HPy,
    n: usize,
) -> HPy {
    // SAFETY: `ctx` is valid for this call, `module` and the `n` handles at `args` live in it.
    unsafe {
        boundary(ctx, || {
            let [name, indices, doc] = fixed_args(args, n, "cdict_function(name, indices, doc)")?;
            let mut resolved = Vec::new();
            for item in items(ctx, *indices, "cdict_function() indices")? {
                let index = int_arg(ctx, item, "cdict_function() index");
                close(ctx, item);
                resolved.push(index_of(index?)?);
            }
            let function = CFunction::new(
                str_arg(ctx, *name, "cdict_function() name")?,
                &resolved,
                str_arg(ctx, *doc, "cdict_function() doc")?,
            )?;
            let ty = check(hpy!(ctx, ctx_GetAttr_s, module, c"CFunction".as_ptr()))?;
            let h = instance(ctx, ty, function);
            close(ctx, ty);
            h
        })
    }
}

/// The call slot: `function(*args)`; keyword arguments are refused.
///
/// # Safety
/// Called by cfunction.c with the context of the call, a live instance's data, and `nargs` live
/// handles at `args` (then `kwnames`' names' values, if `kwnames` is not null).
#[no_mangle]
pub unsafe extern "C" fn hpybridge_cfunction_call(
    ctx: *mut HPyContext,
    function: *const c_void,
    args: *const HPy,
    nargs: usize,
    kwnames: HPy,
) -> HPy {
    // SAFETY: as the contract says; `data` lives as long as the instance, which the call holds.
    unsafe {
        boundary(ctx, || {
            let f = data(function);
            if !kwnames.is_null() && hpy!(ctx, ctx_Length, kwnames) != 0 {
                return Err(Error::new(Exception::TypeError, format!("{}() takes no keyword arguments", f.name)));
            }
            let args = if nargs == 0 { &[][..] } else { std::slice::from_raw_parts(args, nargs) };
            f.call(ctx, args)
        })
    }
}

/// `repr(function)`.
///
/// # Safety
/// Called by cfunction.c with the context of the call and a live instance's data.
#[no_mangle]
pub unsafe extern "C" fn hpybridge_cfunction_repr(ctx: *mut HPyContext, function: *const c_void) -> HPy {
    // SAFETY: as the contract says.
    unsafe { boundary(ctx, || Builder(ctx).str(&data(function).repr())) }
}

/// The attribute `which`: 0 `name`, 1 `signatures`, 2 `implementations`, 3 `doc`.
///
/// # Safety
/// Called by cfunction.c with the context of the call and a live instance's data.
#[no_mangle]
pub unsafe extern "C" fn hpybridge_cfunction_get(ctx: *mut HPyContext, function: *const c_void, which: c_int) -> HPy {
    // SAFETY: as the contract says.
    unsafe {
        boundary(ctx, || {
            let f = data(function);
            let b = Builder(ctx);
            match which {
                0 => b.str(&f.name),
                1 => tuple(ctx, f.signatures().iter().map(|s| b.str(s))),
                2 => implementations(ctx, f),
                _ => b.str(&f.doc),
            }
        })
    }
}

/// `implementations`: a tuple of `hpybridge.cdict.Implementation` named tuples.
///
/// # Safety
/// `ctx` must be valid for the current call.
unsafe fn implementations(ctx: *mut HPyContext, f: &CFunction) -> Result<HPy> {
    // SAFETY: `ctx` is valid for the current call; every handle made here is closed once.
    unsafe {
        let module = check(hpy!(ctx, ctx_Import_ImportModule, c"hpybridge.cdict".as_ptr()))?;
        let class = hpy!(ctx, ctx_GetAttr_s, module, c"Implementation".as_ptr());
        close(ctx, module);
        let class = check(class)?;
        let b = Builder(ctx);
        let made = tuple(
            ctx,
            f.implementations.iter().map(|(_, imp)| {
                let fields = tuple(
                    ctx,
                    [
                        b.str(&imp.signature.to_canonical()),
                        b.opt_str(imp.family.as_ref().map(|f| f.to_string()).as_deref()),
                        b.str(&imp.provider),
                        b.int(i64::from(imp.flags)),
                        b.opt_str(imp.refused.as_deref()),
                    ],
                )?;
                let made = hpy!(ctx, ctx_CallTupleDict, class, fields, HPy_NULL);
                close(ctx, fields);
                check(made)
            }),
        );
        close(ctx, class);
        made
    }
}

/// A tuple of what `items` yields (each consumed); stops at the first error.
///
/// # Safety
/// `ctx` must be valid for the current call.
unsafe fn tuple(ctx: *mut HPyContext, items: impl IntoIterator<Item = Result<HPy>>) -> Result<HPy> {
    let mut made = Vec::new();
    for item in items {
        match item {
            Ok(h) => made.push(h),
            Err(e) => {
                // SAFETY: each was made above, in `ctx`, and is closed once.
                made.iter().for_each(|&h| unsafe { close(ctx, h) });
                return Err(e);
            }
        }
    }
    // SAFETY: `ctx` is valid for the current call; `made` holds live handles, closed once after
    // the tuple took its own references.
    unsafe {
        let t = hpy!(ctx, ctx_Tuple_FromArray, made.as_mut_ptr(), made.len() as isize);
        made.iter().for_each(|&h| close(ctx, h));
        check(t)
    }
}

/// `function.select(signature)`: a new `CFunction` of the implementation of `signature` alone.
///
/// # Safety
/// Called by cfunction.c with the context of the call, the instance `this`, its data, and a live
/// handle `signature`.
#[no_mangle]
pub unsafe extern "C" fn hpybridge_cfunction_select(
    ctx: *mut HPyContext,
    this: HPy,
    function: *const c_void,
    signature: HPy,
) -> HPy {
    // SAFETY: as the contract says; `ty` is closed once.
    unsafe {
        boundary(ctx, || {
            let text = str_arg(ctx, signature, "select() signature")?;
            let sig = Signature::parse(&text)
                .map_err(|e| Error::new(PyError::SignatureSyntaxError, format!("{e}\n{}", e.caret())))?;
            let selected = data(function).select(&sig.to_canonical())?;
            let ty = check(hpy!(ctx, ctx_Type, this))?;
            let h = instance(ctx, ty, selected);
            close(ctx, ty);
            h
        })
    }
}

/// The destroy slot: frees an instance's data.
///
/// # Safety
/// Called once per instance by cfunction.c, with the data `instance` gave it.
#[no_mangle]
pub unsafe extern "C" fn hpybridge_cfunction_free(function: *const c_void) {
    boundary_without_context("freeing a CFunction", || {
        if !function.is_null() {
            // SAFETY: the contract: a Box<CFunction> the instance owned, freed once.
            drop(unsafe { Box::from_raw(function.cast_mut().cast::<CFunction>()) });
        }
    })
}

/// `function`'s foreign form (`cdict::export`) as `(name, signature, address, uses_python)`, what
/// `hpybridge.export`'s functions are given (they never call the runtime back: PyPy's debug mode
/// must not re-enter a module from a call of Python code it made).
///
/// # Safety
/// Called by cfunction.c with the context of the call and a live instance's data.
#[no_mangle]
pub unsafe extern "C" fn hpybridge_cfunction_foreign(ctx: *mut HPyContext, function: *const c_void) -> HPy {
    // SAFETY: as the contract says.
    unsafe {
        boundary(ctx, || {
            let f = data(function);
            let form = foreign_form(f)?;
            let b = Builder(ctx);
            tuple(
                ctx,
                [
                    b.str(&f.name),
                    b.str(&form.signature.to_canonical()),
                    b.int(form.address as i64), // user-space addresses are below 2**47
                    b.bool(form.uses_python),
                ],
            )
        })
    }
}
