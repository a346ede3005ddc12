//! Foreign stubs: a C-API function of a foreign module (a NumPy `_ARRAY_API` entry, a Cython
//! `__pyx_capi__` function) made callable by an HPy consumer in its HPy form, with its own context
//! and handles (docs/foreign-capsules.md). The reverse of `fallback`.
//!
//! Two flavors, picked per consumer family:
//! - `Addresses`: CPython's universal and trace contexts, whose handles are the objects' addresses
//!   plus one (checked at run time, `transfer::plain_handles_are_objects`). The stub drops the
//!   context and takes 1 from each handle (HPy_NULL stays NULL), and adds 1 to an object result,
//!   whose new reference the consumer's handle then owns: no context call, no reference count
//!   touched (`Trampolines::drop_first`: with dynasm a few instructions).
//! - `Converted`: everywhere else (CPython's debug mode, PyPy through cpyext, unknown families).
//!   The stub is an intercepting trampoline whose handler turns each handle argument into an
//!   object with the consumer's own `ctx_AsPyObject`, calls the foreign function through a
//!   prepared call of its C-API signature (`trampolines::Caller`), releases those references, and
//!   turns a result object into a handle of the consumer's context (`ctx_FromPyObject`), releasing
//!   the function's reference.
//!
//! A signature without objects needs neither: in every flavor the stub only drops the context.
//!
//! The consumer's context is valid for the call (the consumer calls with it), so no family is
//! entered. `HPy_NULL` becomes NULL and back; the foreign function's exception, which belongs to
//! the thread, reaches the consumer unchanged, with the function's own error value.

use crate::crossing::family::{Family, Interpreter, Mode};
use crate::crossing::plan::trampolines;
use crate::crossing::transfer::plain_handles_are_objects;
use crate::hpy;
use crate::hpy::boundary::call_failed;
use crate::hpy::error::{Error, Exception, Result};
use capsules::signature::{CType, Pointee, Signature};
use hpy_sys::{cpy_PyObject, HPyContext};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;
use trampolines::{Adjust, Call, Caller, MAX_ARGS};

/// How a consumer family's handles become objects and back (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Flavor {
    Addresses,
    Converted,
}

impl Flavor {
    /// The flavor for a consumer calling with `ctx`, of family `family`.
    ///
    /// # Safety
    /// `ctx` must be valid for the current call.
    pub unsafe fn of(family: &Family, ctx: *mut HPyContext) -> Flavor {
        let plain = family.interpreter() == Some(Interpreter::CPython) && family.mode() != Some(Mode::Debug);
        // SAFETY: a CPython universal or trace context, valid for the current call.
        if plain && family.mode().is_some() && unsafe { plain_handles_are_objects(ctx) } {
            Flavor::Addresses
        } else {
            Flavor::Converted
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Flavor::Addresses => "addresses",
            Flavor::Converted => "converted",
        }
    }
}

/// What a `Converted` stub needs on every call.
struct ForeignPlan {
    target: *const c_void,
    /// Calls the foreign function with its C-API signature.
    caller: Caller<'static>,
    /// Per C-API parameter: whether it is an object (a handle in the HPy form).
    objects: Box<[bool]>,
    returns_object: bool,
    /// `Py_DecRef` of this process's C API.
    decref: DecRef,
}

// SAFETY: the target is process-lifetime code, the plan immutable once made.
unsafe impl Send for ForeignPlan {}
// SAFETY: as above; calls read it only.
unsafe impl Sync for ForeignPlan {}

type DecRef = unsafe extern "C" fn(*mut cpy_PyObject);

/// Stubs made so far, by (foreign function, C-API signature, flavor): a function imported by many
/// consumers, or many times, gets one stub per flavor. Stubs and plans live as long as the process.
#[allow(clippy::type_complexity)]
static STUBS: Mutex<Option<HashMap<(usize, Signature, Flavor), (usize, Option<Box<ForeignPlan>>)>>> = Mutex::new(None);

/// The stub of `function` (whose C-API signature is `sig`, HPy form `form`) for consumers of `flavor`.
///
/// # Safety
/// `function` must be a C function of signature `sig` that lives as long as the process.
pub unsafe fn foreign_stub(
    function: *const c_void,
    sig: &Signature,
    form: &Signature,
    flavor: Flavor,
    interpreter: Option<Interpreter>,
) -> Result<*const c_void> {
    let mut stubs = STUBS.lock();
    let stubs = stubs.get_or_insert_with(HashMap::new);
    let key = (function as usize, sig.clone(), flavor);
    if let Some((code, _)) = stubs.get(&key) {
        return Ok(*code as *const c_void);
    }
    let t = trampolines()?;
    let cannot = |e: trampolines::Error| {
        Error::new(Exception::RuntimeError, format!("cannot make a stub for the foreign function \"{sig}\": {e}"))
    };
    let object = |t: &CType| matches!(t, CType::Pointer { target: Pointee::PyObject, .. });
    let objects: Box<[bool]> = sig.args.iter().map(object).collect();
    let returns_object = object(&sig.ret);
    if flavor == Flavor::Addresses || !(returns_object || objects.contains(&true)) {
        let adjust = |o: bool, delta| if o { Adjust::AddUnlessZero(delta) } else { Adjust::Keep };
        let args: Vec<Adjust> = objects.iter().map(|&o| adjust(o, -1)).collect();
        let code = t.drop_first(form, function, &args, adjust(returns_object, 1)).map_err(cannot)?;
        stubs.insert(key, (code as usize, None));
        return Ok(code);
    }
    let plan = Box::new(ForeignPlan {
        target: function,
        caller: t.caller(sig).map_err(cannot)?,
        objects,
        returns_object,
        decref: py_decref(interpreter)?,
    });
    let code = t.intercept(form, on_foreign_call, (&*plan as *const ForeignPlan).cast()).map_err(cannot)?;
    stubs.insert(key, (code as usize, Some(plan)));
    Ok(code)
}

/// `Py_DecRef` of the C API in this process, found once by name: CPython exports it as such, PyPy's
/// cpyext as `PyPy_DecRef` (its C-API symbols carry that prefix). The universal ABI has no way to
/// release a reference that `ctx_AsPyObject` or a C-API function gave.
fn py_decref(interpreter: Option<Interpreter>) -> Result<DecRef> {
    static FOUND: OnceLock<usize> = OnceLock::new();
    let address = *FOUND.get_or_init(|| {
        let names: &[&std::ffi::CStr] = match interpreter {
            Some(Interpreter::CPython) => &[c"Py_DecRef"],
            Some(Interpreter::PyPy) => &[c"PyPy_DecRef"],
            None => &[c"Py_DecRef", c"PyPy_DecRef"],
        };
        names
            .iter()
            // SAFETY: dlsym only reads the dynamic linker's tables.
            .map(|n| unsafe { libc::dlsym(libc::RTLD_DEFAULT, n.as_ptr()) } as usize)
            .find(|&a| a != 0)
            .unwrap_or(0)
    });
    if address == 0 {
        return Err(Error::new(
            Exception::RuntimeError,
            "foreign C-API functions need the Python C API, and this process has no Py_DecRef",
        ));
    }
    // SAFETY: the C API's `void Py_DecRef(PyObject *)`, by its exported name.
    Ok(unsafe { std::mem::transmute::<usize, DecRef>(address) })
}

/// The handler of every `Converted` stub; `data` is its `ForeignPlan`. A panic is raised in the
/// consumer's context (argument 0) and the call returns 0.
///
/// # Safety
/// `data` is the stub's plan; the caller is an HPy consumer calling with a context valid for the
/// call, holding the GIL.
unsafe fn on_foreign_call(call: &mut dyn Call, data: *const c_void) {
    // SAFETY: `data` is this stub's plan, which lives as long as the stub.
    let plan = unsafe { &*data.cast::<ForeignPlan>() };
    // SAFETY: the caller's contract.
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| unsafe { foreign_call(call, plan) })) {
        // SAFETY: argument 0 of the HPy form is the consumer's context, valid for the call.
        unsafe { call_failed(call, 0, panic) };
    }
}

/// The call proper (see the module docs).
///
/// # Safety
/// As `on_foreign_call`.
unsafe fn foreign_call(call: &mut dyn Call, plan: &ForeignPlan) {
    let n = plan.caller.params();
    let mut words = [0u64; MAX_ARGS];
    for (i, word) in words[..n].iter_mut().enumerate() {
        *word = call.arg(i + 1);
    }
    let ctx = call.arg(0) as *mut HPyContext;
    let decref = plan.decref;
    // The references `ctx_AsPyObject` gave, released after the call.
    let mut owned = [std::ptr::null_mut::<cpy_PyObject>(); MAX_ARGS];
    for (i, _) in plan.objects.iter().enumerate().filter(|(_, &o)| o) {
        if words[i] == 0 {
            continue;
        }
        // SAFETY: `ctx` is valid for the call and `words[i]` a live handle of the consumer's in it.
        let object = unsafe { hpy!(ctx, ctx_AsPyObject, hpy_sys::HPy { _i: words[i] as isize }) };
        if object.is_null() {
            // (An exception is set.) Release what was taken, and fail as C APIs fail.
            // SAFETY: each is a reference owned here.
            owned[..i].iter().filter(|o| !o.is_null()).for_each(|&o| unsafe { decref(o) });
            call.set_ret(0);
            return;
        }
        owned[i] = object;
        words[i] = object as u64;
    }
    // SAFETY: `target` has the caller's signature; each object argument is a live reference.
    let result = unsafe { plan.caller.call(plan.target, &words[..n]) };
    // SAFETY: each is a reference owned here, released once.
    owned[..n].iter().filter(|o| !o.is_null()).for_each(|&o| unsafe { decref(o) });
    if plan.returns_object && result != 0 {
        let object = result as *mut cpy_PyObject;
        // SAFETY: `ctx` is valid for the call; `object` is the new reference the function
        // returned, which the handle then holds one of its own to.
        let h = unsafe { hpy!(ctx, ctx_FromPyObject, object) };
        // SAFETY: as above: the function's reference is released once.
        unsafe { decref(object) };
        call.set_ret(h._i as u64);
    } else {
        call.set_ret(result);
    }
}
