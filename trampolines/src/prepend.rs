//! Prepending stubs: a function of signature `S` that calls a target whose signature is `S` with
//! one more integer-class parameter in front, adjusting chosen words on the way.
//!
//! The runtime's fallback stubs are this: a C-API caller passes `PyObject *`s, and the provider
//! wants its `HPyContext *` in front and handles instead of objects. On CPython a universal handle
//! is the object's address plus one, so the whole translation is [`Adjust::AddUnlessZero`]: `+1`
//! on the way in, `-1` on the way out, NULL staying NULL (what that means is the runtime's
//! business; here they are words).
//!
//! The dynasm backend assembles a few-instruction stub when every argument stays in a register
//! after the shift (see `dynasm_backend::prepend_stub`). Everywhere else, and with libffi, the
//! stub is an intercepting trampoline whose handler, [`on_prepended`], makes the call through a
//! [`crate::Caller`]-style prepared call of the target's signature.

use crate::abi::{Shape, Value, MAX_ARGS};
use crate::{Call, Error, Invoke, Signature};
use capsules::signature::CType;
use std::ffi::c_void;

/// What happens to one word (an argument or the result) in a prepending stub.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Adjust {
    Keep,
    /// Adds the delta (wrapping) unless the word is 0, which stays 0.
    AddUnlessZero(i32),
}

impl Adjust {
    pub fn apply(self, word: u64) -> u64 {
        match self {
            Adjust::Keep => word,
            Adjust::AddUnlessZero(_) if word == 0 => 0,
            Adjust::AddUnlessZero(d) => word.wrapping_add(d as i64 as u64),
        }
    }
}

/// A prepending stub's request, checked: what every backend gets.
pub struct Prepend {
    /// The target's shape: the stub's with a pointer in front.
    pub inner: Shape,
    /// The target's signature (for messages and the backends' per-signature machinery).
    pub inner_sig: Signature,
    pub target: *const c_void,
    pub first: u64,
    /// One per parameter of the stub's own signature.
    pub args: Box<[Adjust]>,
    pub ret: Adjust,
}

impl Prepend {
    /// Checks that adjustments fall on full-word integer-class values only (pointers, handles,
    /// 64-bit integers) and that the target's signature is supported.
    pub fn new(
        sig: &Signature,
        shape: &Shape,
        target: *const c_void,
        first: u64,
        args: &[Adjust],
        ret: Adjust,
    ) -> Result<Prepend, Error> {
        let unsupported = |reason: String| Error::Unsupported { signature: sig.to_string(), reason };
        if args.len() != shape.args.len() {
            return Err(unsupported(format!(
                "{} argument adjustments for {} parameters",
                args.len(),
                shape.args.len()
            )));
        }
        let word = |v: Value| matches!(v, Value::Pointer | Value::Handle | Value::Int { bytes: 8, .. });
        for (i, (&a, &v)) in args.iter().zip(&shape.args).enumerate() {
            if a != Adjust::Keep && !word(v) {
                return Err(unsupported(format!(
                    "parameter {i} is adjusted but is no pointer, handle or 64-bit integer"
                )));
            }
        }
        if ret != Adjust::Keep && !shape.ret.is_some_and(word) {
            return Err(unsupported("the result is adjusted but is no pointer, handle or 64-bit integer".into()));
        }
        if shape.args.len() >= MAX_ARGS {
            return Err(unsupported(format!("the target would take more than {MAX_ARGS} parameters")));
        }
        let inner_sig =
            Signature { ret: sig.ret, args: std::iter::once(CType::CONTEXT).chain(sig.args.iter().copied()).collect() };
        let inner = Shape::of(&inner_sig)?;
        Ok(Prepend { inner, inner_sig, target, first, args: args.into(), ret })
    }
}

/// What the generic stub's handler needs: the request and a prepared call of the target.
pub struct Prepared {
    pub request: Prepend,
    pub invoke: Box<dyn Invoke>,
}

// SAFETY: immutable once made; `target` is a C function, callable from any thread.
unsafe impl Send for Prepared {}

/// The handler of generic prepending stubs; `data` is their [`Prepared`].
///
/// # Safety
/// `data` must be the `Prepared` the stub was made with, alive for the call.
pub unsafe fn on_prepended(call: &mut dyn Call, data: *const c_void) {
    // SAFETY: the stub's data, kept by the factory as long as the stub.
    let p = unsafe { &*data.cast::<Prepared>() };
    let r = &p.request;
    let n = r.args.len();
    let mut words = [0u64; MAX_ARGS];
    words[0] = r.first;
    for (i, a) in r.args.iter().enumerate() {
        words[i + 1] = a.apply(call.arg(i));
    }
    // SAFETY: the target has the inner signature (the factory's caller promised it), and
    // `words` holds one word per parameter of it.
    let result = unsafe { p.invoke.call(r.target, &words[..n + 1]) };
    call.set_ret(r.ret.apply(result));
}

#[cfg(test)]
mod tests {
    use super::Adjust;

    #[test]
    fn adjust_keeps_zero() {
        assert_eq!(Adjust::AddUnlessZero(1).apply(0), 0);
        assert_eq!(Adjust::AddUnlessZero(1).apply(0x1000), 0x1001);
        assert_eq!(Adjust::AddUnlessZero(-1).apply(0x1001), 0x1000);
        assert_eq!(Adjust::AddUnlessZero(-1).apply(0), 0);
        assert_eq!(Adjust::AddUnlessZero(-1).apply(1), 0);
        assert_eq!(Adjust::Keep.apply(7), 7);
    }
}
