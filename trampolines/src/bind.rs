//! Binding stubs: a function of a signature `S` that calls a target whose signature is `S` with
//! more integer-class parameters at the end, passing fixed words for them.
//!
//! The runtime's adopted foreign functions are this: a Cython `cpdef` function takes a trailing
//! `int __pyx_skip_dispatch` (always 0 from C) and a SciPy `LowLevelCallable` a trailing `void *`
//! user_data; a C consumer that asks for the function without them gets a binding stub.
//!
//! The dynasm backend assembles `mov reg, imm64` per bound word and a jump to the target when
//! every argument of the target is in a register (see `dynasm_backend::bind_stub`). Everywhere
//! else, and with libffi, the stub is an intercepting trampoline whose handler, [`on_bound`],
//! makes the call through a prepared call of the target's signature.

use crate::abi::{Shape, MAX_ARGS};
use crate::{Call, Error, Invoke, Signature};
use std::ffi::c_void;

/// A binding stub's request, checked: what every backend gets.
pub struct Bind {
    /// The target's shape: the stub's with the bound parameters after it.
    pub inner: Shape,
    /// The target's signature.
    pub inner_sig: Signature,
    pub target: *const c_void,
    /// The words of the target's last `bound.len()` parameters.
    pub bound: Box<[u64]>,
}

impl Bind {
    /// Checks that the bound parameters are integer-class (integers, pointers, handles) and that
    /// the target's signature is supported. Returns the request and the stub's own signature.
    pub fn new(inner_sig: &Signature, target: *const c_void, bound: &[u64]) -> Result<(Bind, Signature), Error> {
        let unsupported = |reason: String| Error::Unsupported { signature: inner_sig.to_string(), reason };
        let inner = Shape::of(inner_sig)?;
        let n = inner.args.len();
        if bound.len() > n {
            return Err(unsupported(format!("{} bound words for {n} parameters", bound.len())));
        }
        if n > MAX_ARGS {
            return Err(unsupported(format!("the target takes more than {MAX_ARGS} parameters")));
        }
        if let Some(i) = (n - bound.len()..n).find(|&i| inner.args[i].is_float()) {
            return Err(unsupported(format!("parameter {i} is bound but is no integer, pointer or handle")));
        }
        let outer = Signature { ret: inner_sig.ret, args: inner_sig.args[..n - bound.len()].to_vec() };
        Ok((Bind { inner, inner_sig: inner_sig.clone(), target, bound: bound.into() }, outer))
    }
}

/// What the generic stub's handler needs: the request and a prepared call of the target.
pub struct Prepared {
    pub request: Bind,
    pub invoke: Box<dyn Invoke>,
}

// SAFETY: immutable once made; `target` is a C function, callable from any thread.
unsafe impl Send for Prepared {}

/// The handler of generic binding stubs; `data` is their [`Prepared`].
///
/// # Safety
/// `data` must be the `Prepared` the stub was made with, alive for the call.
pub unsafe fn on_bound(call: &mut dyn Call, data: *const c_void) {
    // SAFETY: the stub's data, kept by the factory as long as the stub.
    let p = unsafe { &*data.cast::<Prepared>() };
    let r = &p.request;
    let n = r.inner.args.len();
    let free = n - r.bound.len();
    let mut words = [0u64; MAX_ARGS];
    for (i, word) in words[..free].iter_mut().enumerate() {
        *word = call.arg(i);
    }
    words[free..n].copy_from_slice(&r.bound);
    // SAFETY: the target has the inner signature (the factory's caller promised it), and `words`
    // holds one word per parameter of it.
    let result = unsafe { p.invoke.call(r.target, &words[..n]) };
    call.set_ret(result);
}
