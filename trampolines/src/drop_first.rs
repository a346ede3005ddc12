//! Dropping stubs: a function of signature `S` that calls a target whose signature is `S` without
//! its parameter 0 (an integer-class value, dropped), adjusting chosen words on the way. The
//! reverse of `prepend`.
//!
//! The runtime's foreign stubs are this: an HPy consumer passes its `HPyContext *` and handles, and
//! a foreign C-API function wants neither the context nor handles but objects. On CPython a universal
//! handle is the object's address plus one, so the translation is [`Adjust::AddUnlessZero`]: `-1` on
//! the way in, `+1` on the way out, NULL staying NULL.
//!
//! The dynasm backend assembles a few-instruction stub when every argument of the stub is in a
//! register (see `dynasm_backend::drop_first_stub`): a function without objects is a single jump.
//! Everywhere else, and with libffi, the stub is an intercepting trampoline whose handler,
//! [`on_dropped`], makes the call through a prepared call of the target's signature.

use crate::abi::{Shape, Value, MAX_ARGS};
use crate::{Adjust, Call, Error, Invoke, Signature};
use std::ffi::c_void;

/// A dropping stub's request, checked: what every backend gets.
pub struct DropFirst {
    /// The target's shape: the stub's without parameter 0.
    pub inner: Shape,
    /// The target's signature.
    pub inner_sig: Signature,
    pub target: *const c_void,
    /// One per parameter of the target.
    pub args: Box<[Adjust]>,
    pub ret: Adjust,
}

impl DropFirst {
    /// Checks that parameter 0 is integer-class, that adjustments fall on full-word integer-class
    /// values only (pointers, handles, 64-bit integers), and that the target's signature is supported.
    pub fn new(
        sig: &Signature,
        shape: &Shape,
        target: *const c_void,
        args: &[Adjust],
        ret: Adjust,
    ) -> Result<DropFirst, Error> {
        let unsupported = |reason: String| Error::Unsupported { signature: sig.to_string(), reason };
        if shape.args.first().is_none_or(|v| v.is_float()) {
            return Err(unsupported("drop_first needs an integer-class parameter 0 to drop".into()));
        }
        if args.len() + 1 != shape.args.len() {
            return Err(unsupported(format!(
                "{} argument adjustments for a target of {} parameters",
                args.len(),
                shape.args.len() - 1
            )));
        }
        let word = |v: Value| matches!(v, Value::Pointer | Value::Handle | Value::Int { bytes: 8, .. });
        for (i, (&a, &v)) in args.iter().zip(&shape.args[1..]).enumerate() {
            if a != Adjust::Keep && !word(v) {
                return Err(unsupported(format!(
                    "parameter {} is adjusted but is no pointer, handle or 64-bit integer",
                    i + 1
                )));
            }
        }
        if ret != Adjust::Keep && !shape.ret.is_some_and(word) {
            return Err(unsupported("the result is adjusted but is no pointer, handle or 64-bit integer".into()));
        }
        let inner_sig = Signature { ret: sig.ret, args: sig.args[1..].to_vec() };
        let inner = Shape::of(&inner_sig)?;
        debug_assert!(inner.args.len() < MAX_ARGS);
        Ok(DropFirst { inner, inner_sig, target, args: args.into(), ret })
    }
}

/// What the generic stub's handler needs: the request and a prepared call of the target.
pub struct Prepared {
    pub request: DropFirst,
    pub invoke: Box<dyn Invoke>,
}

// SAFETY: immutable once made; `target` is a C function, callable from any thread.
unsafe impl Send for Prepared {}

/// The handler of generic dropping stubs; `data` is their [`Prepared`].
///
/// # Safety
/// `data` must be the `Prepared` the stub was made with, alive for the call.
pub unsafe fn on_dropped(call: &mut dyn Call, data: *const c_void) {
    // SAFETY: the stub's data, kept by the factory as long as the stub.
    let p = unsafe { &*data.cast::<Prepared>() };
    let r = &p.request;
    let n = r.args.len();
    let mut words = [0u64; MAX_ARGS];
    for (i, a) in r.args.iter().enumerate() {
        words[i] = a.apply(call.arg(i + 1));
    }
    // SAFETY: the target has the inner signature (the factory's caller promised it), and `words`
    // holds one word per parameter of it.
    let result = unsafe { p.invoke.call(r.target, &words[..n]) };
    call.set_ret(r.ret.apply(result));
}
