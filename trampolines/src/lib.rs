//! Trampolines: functions with a given C signature, made at run time, that put hpybridge's
//! runtime between a consumer and the provider function it calls.
//!
//! The runtime hands consumers tables of function pointers. When consumer and provider live in
//! different HPy contexts, a table entry is a trampoline made here:
//! - [`Trampolines::intercept`]: calls a Rust [`Handler`] that sees the call's arguments as raw
//!   64-bit words ([`Call`]), may rewrite them, calls the real target, and may rewrite its result.
//!   The HPy meaning of those words (contexts, handles) is the runtime's business, not this crate's.
//! - [`Trampolines::swap_arg0`]: replaces the context argument and jumps to the target.
//! - [`Trampolines::count`]: counts calls and jumps to the target.
//! - [`Trampolines::prepend`]: calls a target that takes one more argument in front, adjusting
//!   chosen words on the way (see `prepend`).
//! - [`Trampolines::drop_first`]: the reverse, calls a target that takes parameter 0 away, adjusting
//!   chosen words on the way (see `drop_first`).
//! - [`Trampolines::bind_last`]: calls a target that takes more parameters at the end, passing
//!   fixed words for them (see `bind`).
//!
//! - [`Trampolines::object_call`]: a vectorcall-convention function that calls a C function of
//!   `double`s, integers, `bool`s and objects with its argument objects, for an object model
//!   described by the caller
//!   (see `object_call`); dynasm only.
//!
//! And the other direction, for Rust that calls C: [`Trampolines::caller`] prepares calls of any
//! function of a given signature, with the arguments and result as words (what [`Call`] holds).
//!
//! Two backends make them ([`BackendKind`]): dynasm, which assembles x86_64 System V stubs, and
//! libffi, which works wherever libffi has closures. Both keep their code in W^X memory of their
//! own (see `code_memory`), bounded by a limit and released when the [`Trampolines`] is dropped.

mod abi;
mod bind;
mod code_memory;
mod drop_first;
#[cfg(target_arch = "x86_64")]
mod dynasm_backend;
mod error;
mod ffi_backend;
mod object_call;
mod prepend;

use abi::Shape;
use bind::{on_bound, Bind};
use drop_first::{on_dropped, DropFirst};
use prepend::{on_prepended, Prepared, Prepend};
use std::ffi::{c_void, OsStr};
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, MutexGuard, PoisonError};

pub use abi::{widen, Value, MAX_ARGS};
pub use capsules::signature::Signature;
pub use dynasm_backend::RegisterInvoker;
pub use error::Error;
pub use object_call::{IntLayout, ObjectCall, Part, MAX_DOUBLES, MAX_OBJECTS};
pub use prepend::Adjust;

/// One intercepted call, as a handler sees it. Argument `i` is the `i`-th C parameter of the
/// signature (`arg`/`set_arg` panic if it has no such parameter, which aborts the process since
/// handlers run below C frames).
///
/// Values are raw 64-bit patterns: integer-class arguments (integers, `bool`, pointers, `HPy`,
/// `HPyContext *`) as the full register or stack word the caller passed (callers must not rely on
/// the upper bits of narrow integers; `set_arg` writes the full word); `double` as the bits of the
/// value, `float` as its bits in the low 32.
pub trait Call {
    fn arg(&self, i: usize) -> u64;
    fn set_arg(&mut self, i: usize, value: u64);
    /// Calls `target` (a C function with this call's signature) with the current argument values
    /// and stores its result (readable with `ret`). May be called more than once, or not at all.
    ///
    /// # Safety
    /// `target` must be a function with this call's signature, safe to call with these arguments.
    unsafe fn invoke(&mut self, target: *const c_void);
    /// The result, encoded like arguments; 0 until set or invoked, and always 0 for `void`.
    fn ret(&self) -> u64;
    /// Sets the result the trampoline returns (ignored for `void`).
    fn set_ret(&mut self, value: u64);
}

/// Called on every call of an intercepting trampoline, with the `data` given when it was made.
///
/// A panic cannot unwind through the C caller: it aborts the process.
pub type Handler = unsafe fn(call: &mut dyn Call, data: *const c_void);

/// The environment variable that selects the backend.
pub const BACKEND_VAR: &str = "HPYBRIDGE_TRAMPOLINES";

/// Which machinery makes the trampolines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BackendKind {
    /// Stubs assembled for x86_64 System V: the fast path, with tail-calling `swap_arg0`/`count`.
    Dynasm,
    /// libffi closures and `ffi_call`: slower, but works wherever libffi has closures.
    Libffi,
}

impl BackendKind {
    /// The backends this build can use, the default first.
    pub fn available() -> &'static [BackendKind] {
        if cfg!(target_arch = "x86_64") {
            &[BackendKind::Dynasm, BackendKind::Libffi]
        } else {
            &[BackendKind::Libffi]
        }
    }

    /// The spelling `HPYBRIDGE_TRAMPOLINES` takes.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Dynasm => "dynasm",
            BackendKind::Libffi => "libffi",
        }
    }

    /// `HPYBRIDGE_TRAMPOLINES=dynasm|libffi`; unset or empty: dynasm on x86_64, libffi
    /// elsewhere. An unknown value, or dynasm where it is unsupported, is an error naming what
    /// was expected and what was found.
    pub fn from_env() -> Result<BackendKind, SettingError> {
        Self::from_setting(std::env::var_os(BACKEND_VAR).as_deref())
    }

    fn from_setting(value: Option<&OsStr>) -> Result<BackendKind, SettingError> {
        let available = Self::available();
        let Some(value) = value.filter(|v| !v.is_empty()) else {
            return Ok(available[0]);
        };
        match available.iter().find(|k| value == k.name()) {
            Some(&kind) => Ok(kind),
            None if value == BackendKind::Dynasm.name() => Err(SettingError::DynasmElsewhere),
            None => Err(SettingError::Unknown { found: format!("{value:?}") }),
        }
    }
}

/// Why `HPYBRIDGE_TRAMPOLINES` names no backend this machine can use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SettingError {
    /// `dynasm`, on another architecture than x86_64.
    DynasmElsewhere,
    /// Not a backend's name; `found` is the value as Rust quotes it.
    Unknown { found: String },
}

impl fmt::Display for SettingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let expected = BackendKind::available().iter().map(|k| k.name()).collect::<Vec<_>>().join(" or ");
        write!(f, "{BACKEND_VAR}: expected {expected} (or unset), found ")?;
        match self {
            SettingError::DynasmElsewhere => {
                write!(f, "\"dynasm\": the dynasm backend generates x86_64 code and this is {}", std::env::consts::ARCH)
            }
            SettingError::Unknown { found } => f.write_str(found),
        }
    }
}

impl std::error::Error for SettingError {}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A factory of trampolines with its own code memory. Thread-safe: making trampolines takes an
/// internal lock; calling them takes none.
///
/// Everything it made, and the stubs and cifs its trampolines share per signature shape, live
/// until it is dropped. Dropping
/// it unmaps their code: its code pointers are then invalid, and none of them may be running or
/// called afterwards. The runtime keeps one factory for the life of the process.
pub struct Trampolines {
    kind: BackendKind,
    backend: Mutex<Box<dyn Backend>>,
    /// The data of generic prepending stubs (boxed: the stubs hold their addresses).
    #[allow(clippy::vec_box)]
    prepared: Mutex<Vec<Box<Prepared>>>,
    /// Likewise for generic dropping stubs.
    #[allow(clippy::vec_box)]
    dropped: Mutex<Vec<Box<drop_first::Prepared>>>,
    /// Likewise for generic binding stubs.
    #[allow(clippy::vec_box)]
    bound: Mutex<Vec<Box<bind::Prepared>>>,
}

impl Trampolines {
    /// A factory whose trampolines take at most `limit_bytes` of code memory in all.
    ///
    /// # Panics
    /// If `kind` is not [available](BackendKind::available) on this machine (`from_env` never
    /// returns such a kind).
    pub fn new(kind: BackendKind, limit_bytes: usize) -> Self {
        let backend: Box<dyn Backend> = match kind {
            #[cfg(target_arch = "x86_64")]
            BackendKind::Dynasm => Box::new(dynasm_backend::Dynasm::new(limit_bytes)),
            #[cfg(not(target_arch = "x86_64"))]
            BackendKind::Dynasm => {
                panic!("the dynasm backend generates x86_64 code; this is {}", std::env::consts::ARCH)
            }
            BackendKind::Libffi => Box::new(ffi_backend::Ffi::new(limit_bytes)),
        };
        Trampolines {
            kind,
            backend: Mutex::new(backend),
            prepared: Mutex::new(Vec::new()),
            dropped: Mutex::new(Vec::new()),
            bound: Mutex::new(Vec::new()),
        }
    }

    pub fn kind(&self) -> BackendKind {
        self.kind
    }

    /// A function with `sig`'s C signature that calls `handler(call, data)` and returns what the
    /// handler left in the result. `data` must stay valid as long as the function may be called.
    pub fn intercept(&self, sig: &Signature, handler: Handler, data: *const c_void) -> Result<*const c_void, Error> {
        let shape = Shape::of(sig)?;
        self.backend().intercept(sig, &shape, handler, data)
    }

    /// A function with `sig`'s C signature that calls `target` with argument 0 replaced by
    /// `value` and everything else passed through untouched. With dynasm it is a tail call of
    /// three instructions (`mov rdi, value; mov r11, target; jmp r11`): no frame of its own;
    /// with libffi, a closure that rewrites libffi's copy of argument 0 and `ffi_call`s the
    /// target. Argument 0 must be of integer class (an integer, a pointer or `HPy`).
    pub fn swap_arg0(&self, sig: &Signature, target: *const c_void, value: u64) -> Result<*const c_void, Error> {
        let shape = Shape::of(sig)?;
        if shape.args.first().is_none_or(|v| v.is_float()) {
            return Err(Error::Unsupported {
                signature: sig.to_string(),
                reason: "swap_arg0 needs an integer-class argument 0 (an integer, a pointer or HPy)".into(),
            });
        }
        self.backend().swap_arg0(sig, &shape, target, value)
    }

    /// Like [`Trampolines::swap_arg0`], but the function calls `target` instead of jumping to it,
    /// and when it returns stores `mark.byte` at `*(*(arg0 + mark.via) + mark.at)`, where `arg0`
    /// is the caller's argument 0 (before the swap), then returns the target's result untouched.
    /// What it is for: a caller whose argument 0 is an object with a flag behind a pointer that the
    /// target's callees may clear (CPython debug mode's context validity). With dynasm, when every
    /// argument is in a register: nine instructions (`None` when some is on the stack: the caller
    /// then makes an intercepting trampoline of its own); with libffi, the `swap_arg0` closure that
    /// marks after its `ffi_call`. Argument 0 must be of integer class and `*(arg0 + via)` a valid
    /// pointer on every call.
    pub fn swap_arg0_and_mark(
        &self,
        sig: &Signature,
        target: *const c_void,
        value: u64,
        mark: Mark,
    ) -> Result<Option<*const c_void>, Error> {
        let shape = Shape::of(sig)?;
        if shape.args.first().is_none_or(|v| v.is_float()) {
            return Err(Error::Unsupported {
                signature: sig.to_string(),
                reason: "swap_arg0_and_mark needs an integer-class argument 0 (an integer, a pointer or HPy)".into(),
            });
        }
        self.backend().swap_arg0_and_mark_stub(sig, &shape, target, value, mark)
    }

    /// A function with `sig`'s C signature that atomically adds 1 to `*counter`, then behaves
    /// exactly as `target` (with dynasm: four instructions ending in a jump to it). `counter` must
    /// stay valid as long as the function may be called.
    pub fn count(
        &self,
        sig: &Signature,
        target: *const c_void,
        counter: *const AtomicU64,
    ) -> Result<*const c_void, Error> {
        let shape = Shape::of(sig)?;
        self.backend().count(sig, &shape, target, counter)
    }

    /// A function with `sig`'s C signature that calls `target`, whose signature is `sig` with one
    /// more parameter in front (a pointer, or any integer-class value), passing `first` there and
    /// each argument `i` adjusted by `args[i]`, and returns the target's result adjusted by `ret`.
    /// Only pointers, handles and 64-bit integers may be adjusted. With dynasm, when every argument
    /// stays in a register, it is a stub of a few instructions (2 per adjusted word, and a tail
    /// call when the result is kept); otherwise an intercepting trampoline that calls through a
    /// prepared call of the target's signature.
    pub fn prepend(
        &self,
        sig: &Signature,
        target: *const c_void,
        first: u64,
        args: &[Adjust],
        ret: Adjust,
    ) -> Result<*const c_void, Error> {
        let shape = Shape::of(sig)?;
        let request = Prepend::new(sig, &shape, target, first, args, ret)?;
        let mut backend = self.backend();
        if let Some(code) = backend.prepend_stub(&shape, &request)? {
            return Ok(code);
        }
        let invoke = backend.caller(&request.inner_sig, &request.inner)?;
        let prepared = Box::new(Prepared { request, invoke });
        let data: *const Prepared = &*prepared;
        let code = backend.intercept(sig, &shape, on_prepended, data.cast())?;
        self.prepared.lock().unwrap_or_else(PoisonError::into_inner).push(prepared);
        Ok(code)
    }

    /// A function with `sig`'s C signature that calls `target`, whose signature is `sig` without
    /// parameter 0 (an integer-class value, which is dropped), passing each argument `i + 1` as the
    /// target's argument `i` adjusted by `args[i]`, and returns the target's result adjusted by
    /// `ret`. Only pointers, handles and 64-bit integers may be adjusted. With dynasm, when every
    /// argument is in a register, it is a stub of a few instructions (one move per integer-class
    /// argument, 2 per adjusted word, and a tail call when the result is kept: a single jump for
    /// a target without integer-class arguments); otherwise an intercepting trampoline that calls
    /// through a prepared call of the target's signature.
    pub fn drop_first(
        &self,
        sig: &Signature,
        target: *const c_void,
        args: &[Adjust],
        ret: Adjust,
    ) -> Result<*const c_void, Error> {
        let shape = Shape::of(sig)?;
        let request = DropFirst::new(sig, &shape, target, args, ret)?;
        let mut backend = self.backend();
        if let Some(code) = backend.drop_first_stub(&shape, &request)? {
            return Ok(code);
        }
        let invoke = backend.caller(&request.inner_sig, &request.inner)?;
        let prepared = Box::new(drop_first::Prepared { request, invoke });
        let data: *const drop_first::Prepared = &*prepared;
        let code = backend.intercept(sig, &shape, on_dropped, data.cast())?;
        self.dropped.lock().unwrap_or_else(PoisonError::into_inner).push(prepared);
        Ok(code)
    }

    /// A function with `sig`'s C signature without its last `bound.len()` parameters, which calls
    /// `target` (of `sig`) with its own arguments followed by the words `bound`, and returns the
    /// target's result. Bound parameters must be integer-class (integers, pointers, handles). With
    /// dynasm, when every argument of the target is in a register, it is a stub of a `mov` per
    /// bound word and a jump; otherwise an intercepting trampoline that calls through a prepared
    /// call of `sig`.
    pub fn bind_last(&self, sig: &Signature, target: *const c_void, bound: &[u64]) -> Result<*const c_void, Error> {
        let (request, outer_sig) = Bind::new(sig, target, bound)?;
        let shape = Shape::of(&outer_sig)?;
        let mut backend = self.backend();
        if let Some(code) = backend.bind_stub(&request)? {
            return Ok(code);
        }
        let invoke = backend.caller(&request.inner_sig, &request.inner)?;
        let prepared = Box::new(bind::Prepared { request, invoke });
        let data: *const bind::Prepared = &*prepared;
        let code = backend.intercept(&outer_sig, &shape, on_bound, data.cast())?;
        self.bound.lock().unwrap_or_else(PoisonError::into_inner).push(prepared);
        Ok(code)
    }

    /// An object-call stub for `request` (see [`ObjectCall`]): `None` if the backend has none
    /// (libffi), then the caller keeps its general function.
    pub fn object_call(&self, request: &ObjectCall) -> Result<Option<*const c_void>, Error> {
        request.check()?;
        self.backend().object_call_stub(request)
    }

    /// Prepared calls of C functions with signature `sig`: what a handler's [`Call::invoke`] does,
    /// for a call that Rust makes itself (say, with one more argument than the call it handles).
    pub fn caller(&self, sig: &Signature) -> Result<Caller<'_>, Error> {
        let shape = Shape::of(sig)?;
        let invoke = self.backend().caller(sig, &shape)?;
        Ok(Caller { invoke, params: shape.args.len(), _factory: PhantomData })
    }

    /// Bytes of executable code memory taken so far: trampolines, the per-signature stubs they
    /// share, and chunk tails too small to use. Only grows, and only when something is made.
    pub fn code_bytes(&self) -> usize {
        self.backend().code_bytes()
    }

    fn backend(&self) -> MutexGuard<'_, Box<dyn Backend>> {
        // A panic while making a trampoline leaves nothing half-published: keep going.
        self.backend.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What each backend implements; arguments are already checked by [`Trampolines`].
trait Backend: Send {
    fn intercept(
        &mut self,
        sig: &Signature,
        shape: &Shape,
        handler: Handler,
        data: *const c_void,
    ) -> Result<*const c_void, Error>;
    fn swap_arg0(
        &mut self,
        sig: &Signature,
        shape: &Shape,
        target: *const c_void,
        value: u64,
    ) -> Result<*const c_void, Error>;
    fn count(
        &mut self,
        sig: &Signature,
        shape: &Shape,
        target: *const c_void,
        counter: *const AtomicU64,
    ) -> Result<*const c_void, Error>;
    fn caller(&mut self, sig: &Signature, shape: &Shape) -> Result<Box<dyn Invoke>, Error>;
    /// A stub of the backend's own for `request`, or `None` for the generic one.
    fn prepend_stub(&mut self, _shape: &Shape, _request: &Prepend) -> Result<Option<*const c_void>, Error> {
        Ok(None)
    }
    /// The backend's function for [`Trampolines::swap_arg0_and_mark`], or `None` if it has none
    /// for this shape (there is no generic one).
    fn swap_arg0_and_mark_stub(
        &mut self,
        _sig: &Signature,
        _shape: &Shape,
        _target: *const c_void,
        _value: u64,
        _mark: Mark,
    ) -> Result<Option<*const c_void>, Error> {
        Ok(None)
    }
    /// Likewise for [`Trampolines::drop_first`].
    fn drop_first_stub(&mut self, _shape: &Shape, _request: &DropFirst) -> Result<Option<*const c_void>, Error> {
        Ok(None)
    }
    /// Likewise for [`Trampolines::bind_last`].
    fn bind_stub(&mut self, _request: &Bind) -> Result<Option<*const c_void>, Error> {
        Ok(None)
    }
    /// Likewise for [`Trampolines::object_call`] (there is no generic one).
    fn object_call_stub(&mut self, _request: &ObjectCall) -> Result<Option<*const c_void>, Error> {
        Ok(None)
    }
    fn code_bytes(&self) -> usize;
}

/// Where [`Trampolines::swap_arg0_and_mark`] stores its byte after the call: at offset `at` of
/// the pointer found at offset `via` of argument 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    pub via: i32,
    pub at: i32,
    pub byte: u8,
}

/// A backend's prepared call of one shape of signature (see [`Caller`]).
trait Invoke: Send + Sync {
    /// # Safety
    /// As [`Caller::call`], with `args.len()` the shape's parameter count.
    unsafe fn call(&self, target: *const c_void, args: &[u64]) -> u64;

    /// The shape's register invoker, if this backend made one.
    fn register_invoker(&self) -> Option<RegisterInvoker> {
        None
    }
}

/// Calls C functions of one signature, with arguments and result encoded as [`Call`] encodes
/// them. Made by [`Trampolines::caller`]; it uses the factory's per-signature machinery, so it
/// lives no longer than the factory. Thread-safe; a call allocates nothing.
pub struct Caller<'t> {
    invoke: Box<dyn Invoke>,
    params: usize,
    _factory: PhantomData<&'t Trampolines>,
}

impl Caller<'_> {
    /// The signature's parameter count: how many words `call` takes.
    pub fn params(&self) -> usize {
        self.params
    }

    /// The signature's register invoker (dynasm backend, shapes without stack arguments), for hot
    /// paths that call it directly: it takes one word per parameter, encoded as for `call`, and
    /// returns the raw result, whose narrow integers the caller must extend itself (`widen`) and
    /// whose `float` is in the low 32 bits. The pointer lives as long as the caller.
    pub fn register_invoker(&self) -> Option<RegisterInvoker> {
        self.invoke.register_invoker()
    }

    /// Calls `target` with `args` (one word per parameter, encoded as [`Call`] encodes them, narrow
    /// integers sign- or zero-extended to the full word) and returns its result encoded likewise:
    /// narrow integers extended by their signedness, 0 for `void`.
    ///
    /// # Panics
    /// If `args` does not have one word per parameter of the signature.
    ///
    /// # Safety
    /// `target` must be a C function with the caller's signature, safe to call with these arguments.
    pub unsafe fn call(&self, target: *const c_void, args: &[u64]) -> u64 {
        assert_eq!(args.len(), self.params, "one word per parameter");
        // SAFETY: the caller's contract, and the word count just checked.
        unsafe { self.invoke.call(target, args) }
    }
}

/// What an intercepting trampoline passes to its backend's Rust entry point: the backend's
/// per-signature plan and the handler with its data. Boxed, so its address can be baked in.
struct Hook<P> {
    plan: *const P,
    handler: Handler,
    data: *const c_void,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_kind_from_setting() {
        let parse = |v: Option<&str>| BackendKind::from_setting(v.map(OsStr::new)).map_err(|e| e.to_string());
        let native = if cfg!(target_arch = "x86_64") { BackendKind::Dynasm } else { BackendKind::Libffi };
        assert_eq!(parse(None), Ok(native));
        assert_eq!(parse(Some("")), Ok(native));
        assert_eq!(parse(Some("libffi")), Ok(BackendKind::Libffi));
        if cfg!(target_arch = "x86_64") {
            assert_eq!(parse(Some("dynasm")), Ok(BackendKind::Dynasm));
            assert_eq!(
                parse(Some("jit")),
                Err("HPYBRIDGE_TRAMPOLINES: expected dynasm or libffi (or unset), found \"jit\"".into())
            );
        } else {
            let e = parse(Some("dynasm")).expect_err("dynasm is x86_64 only");
            assert!(e.contains("expected libffi (or unset), found \"dynasm\""), "{e}");
        }
        let e = parse(Some("LIBFFI")).expect_err("names are case-sensitive");
        assert!(e.ends_with("found \"LIBFFI\""), "{e}");
    }
}
