//! The libffi backend: closures and `ffi_call`, for any target libffi has closures on.
//!
//! Every trampoline is a libffi closure whose callback is Rust: [`on_intercept`] runs the handler
//! over a [`Call`] holding copies of the arguments, and invokes with `ffi_call`; [`on_swap_arg0`]
//! and [`on_count`] adjust the call and `ffi_call` the target with libffi's own argument array.
//! One `ffi_cif` per shape of signature is shared by all of its closures and calls.
//!
//! Closures are not allocated with `ffi_closure_alloc`: Debian bookworm's libffi 3.4.4 is built
//! without static trampolines, and its `ffi_closure_alloc` hands out closures from an anonymous
//! `rwxp` mapping (seen in `/proc/self/maps`). Instead each closure is prepared with
//! `ffi_prep_closure_loc` through the writable view of our own code memory, with the executable
//! view's address as its code location; libffi supports exactly this split (it is what it does
//! itself when SELinux forbids W+X). The closure's trampoline code and its data (cif, callback,
//! user data) are then only ever written once, before they are published.
//!
//! Values cross libffi in their natural C representation, except that integer results narrower
//! than `ffi_arg` are widened to a full `ffi_arg`, as libffi requires of results.

use crate::abi::{widen, Shape, Value, MAX_ARGS};
use crate::code_memory::CodeMemory;
use crate::{Backend, Call, Error, Handler, Hook, Invoke, Mark, Signature};
use libffi_sys::{
    ffi_abi_FFI_DEFAULT_ABI, ffi_arg, ffi_call, ffi_cif, ffi_closure, ffi_prep_cif, ffi_prep_closure_loc, ffi_status,
    ffi_status_FFI_BAD_ABI, ffi_status_FFI_BAD_ARGTYPE, ffi_status_FFI_BAD_TYPEDEF, ffi_status_FFI_OK, ffi_type,
    ffi_type_double, ffi_type_float, ffi_type_pointer, ffi_type_sint16, ffi_type_sint32, ffi_type_sint64,
    ffi_type_sint8, ffi_type_uint16, ffi_type_uint32, ffi_type_uint64, ffi_type_uint8, ffi_type_void, FFI_TYPE_STRUCT,
};
use std::any::Any;
use std::collections::HashMap;
use std::ffi::{c_uint, c_void};
use std::mem::{align_of, size_of};
use std::ptr::{addr_of_mut, null_mut};
use std::sync::atomic::{AtomicU64, Ordering};

/// A libffi closure callback.
type Callback = unsafe extern "C" fn(cif: *mut ffi_cif, result: *mut c_void, args: *mut *mut c_void, data: *mut c_void);

/// A shape's call interface, shared by the closures and calls of all its signatures.
struct Cif {
    cif: ffi_cif,
    /// `cif` points into this.
    _types: Box<[*mut ffi_type]>,
    args: Box<[Value]>,
    ret: Option<Value>,
}

/// libffi's description of `HPy`, `struct { intptr_t _i; }`.
struct HandleType {
    ty: ffi_type,
    /// `ty.elements`: the member's type, then the terminating null.
    elements: [*mut ffi_type; 2],
}

/// What a `swap_arg0` closure needs.
struct Swap {
    cif: *mut ffi_cif,
    target: unsafe extern "C" fn(),
    arg0: Value,
    value: u64,
}

/// What a `swap_arg0_and_mark` closure needs.
struct MarkingSwap {
    swap: Swap,
    mark: Mark,
}

/// What a `count` closure needs.
struct Counted {
    cif: *mut ffi_cif,
    target: unsafe extern "C" fn(),
    counter: *const AtomicU64,
}

pub struct Ffi {
    code: CodeMemory,
    /// Boxed: closures and cifs point at it.
    handle: Box<HandleType>,
    /// Boxed: closures and calls point at them.
    cifs: HashMap<Shape, Box<Cif>>,
    /// Closure user data (hooks, `Swap`s, `Counted`s): boxed, and kept as long as the closures.
    user_data: Vec<Box<dyn Any>>,
}

// SAFETY: the raw pointers are to code memory, boxes this value owns and libffi's constant type
// descriptions, or to the callers' `data` and counters, which only handlers and closures use.
unsafe impl Send for Ffi {}

impl Ffi {
    pub fn new(limit: usize) -> Ffi {
        let mut handle = Box::new(HandleType { ty: ffi_type::default(), elements: [intptr_type(), null_mut()] });
        // Size and alignment filled in, so libffi never writes to this description (it lays out
        // a struct whose size is 0 on first use, which would race between threads).
        handle.ty = ffi_type {
            size: size_of::<isize>(),
            alignment: align_of::<isize>() as u16,
            type_: FFI_TYPE_STRUCT,
            elements: handle.elements.as_mut_ptr(),
        };
        Ffi { code: CodeMemory::new(limit), handle, cifs: HashMap::new(), user_data: Vec::new() }
    }

    /// The shape's call interface, prepared on first use (`sig` is for error messages).
    fn cif(&mut self, sig: &Signature, shape: &Shape) -> Result<*mut Cif, Error> {
        if let Some(cif) = self.cifs.get_mut(shape) {
            return Ok(&mut **cif);
        }
        let handle: *mut ffi_type = &mut self.handle.ty;
        let type_of = |v: Value| ffi_type_of(v, handle);
        let mut types: Box<[*mut ffi_type]> = shape.args.iter().map(|&v| type_of(v)).collect();
        let rtype = shape.ret.map_or(addr_of_mut!(ffi_type_void), type_of);
        let mut cif = Box::new(Cif {
            // SAFETY: plain data, filled in by `ffi_prep_cif`.
            cif: unsafe { std::mem::zeroed() },
            _types: Box::default(),
            args: shape.args.clone().into_boxed_slice(),
            ret: shape.ret,
        });
        // SAFETY: `types` has `args.len()` (at most MAX_ARGS) valid entries; it is moved into the
        // cif's box below, which does not move its heap allocation.
        let status = unsafe {
            ffi_prep_cif(&mut cif.cif, ffi_abi_FFI_DEFAULT_ABI, shape.args.len() as c_uint, rtype, types.as_mut_ptr())
        };
        if status != ffi_status_FFI_OK {
            return Err(Error::Ffi { call: "ffi_prep_cif", detail: status_name(status), signature: sig.to_string() });
        }
        cif._types = types;
        Ok(&mut **self.cifs.entry(shape.clone()).or_insert(cif))
    }

    /// A closure for `cif` calling `callback` with `data`, in our own code memory.
    fn closure<T: 'static>(
        &mut self,
        sig: &Signature,
        cif: *mut ffi_cif,
        callback: Callback,
        data: T,
    ) -> Result<*const c_void, Error> {
        let mut data = Box::new(data);
        let user_data: *mut c_void = (&mut *data as *mut T).cast();
        let r = self.code.reserve(size_of::<ffi_closure>())?;
        let closure = r.rw.cast::<ffi_closure>();
        // SAFETY: `r` is fresh, zeroed and large enough for an `ffi_closure` (zero also tells a
        // libffi with static trampolines that this closure has none); `cif` and `data` live as
        // long as the closure.
        let status = unsafe { ffi_prep_closure_loc(closure, cif, Some(callback), user_data, r.rx.cast_mut()) };
        if status != ffi_status_FFI_OK {
            return Err(Error::Ffi {
                call: "ffi_prep_closure_loc",
                detail: status_name(status),
                signature: sig.to_string(),
            });
        }
        // Guard against a libffi whose `ffi_closure` is laid out differently from libffi-sys's:
        // its fields would not be where the callback wrapper is compiled to find them.
        // SAFETY: `closure` was just initialized.
        if unsafe { ((*closure).cif, (*closure).user_data) } != (cif, user_data) {
            return Err(Error::Ffi {
                call: "ffi_prep_closure_loc",
                detail: "the system libffi lays out ffi_closure differently from the libffi-sys bindings".into(),
                signature: sig.to_string(),
            });
        }
        self.user_data.push(data);
        Ok(r.rx)
    }
}

impl Backend for Ffi {
    fn intercept(
        &mut self,
        sig: &Signature,
        shape: &Shape,
        handler: Handler,
        data: *const c_void,
    ) -> Result<*const c_void, Error> {
        let plan = self.cif(sig, shape)?;
        // SAFETY: cifs live as long as `self`.
        let cif = unsafe { addr_of_mut!((*plan).cif) };
        self.closure(sig, cif, on_intercept, Hook { plan: plan.cast_const(), handler, data })
    }

    fn swap_arg0(
        &mut self,
        sig: &Signature,
        shape: &Shape,
        target: *const c_void,
        value: u64,
    ) -> Result<*const c_void, Error> {
        // SAFETY: cifs live as long as `self`.
        let cif = unsafe { addr_of_mut!((*self.cif(sig, shape)?).cif) };
        let swap = Swap { cif, target: code_pointer(target), arg0: shape.args[0], value };
        self.closure(sig, cif, on_swap_arg0, swap)
    }

    fn swap_arg0_and_mark_stub(
        &mut self,
        sig: &Signature,
        shape: &Shape,
        target: *const c_void,
        value: u64,
        mark: Mark,
    ) -> Result<Option<*const c_void>, Error> {
        // SAFETY: cifs live as long as `self`.
        let cif = unsafe { addr_of_mut!((*self.cif(sig, shape)?).cif) };
        let swap = Swap { cif, target: code_pointer(target), arg0: shape.args[0], value };
        self.closure(sig, cif, on_swap_arg0_and_mark, MarkingSwap { swap, mark }).map(Some)
    }

    fn count(
        &mut self,
        sig: &Signature,
        shape: &Shape,
        target: *const c_void,
        counter: *const AtomicU64,
    ) -> Result<*const c_void, Error> {
        // SAFETY: cifs live as long as `self`.
        let cif = unsafe { addr_of_mut!((*self.cif(sig, shape)?).cif) };
        self.closure(sig, cif, on_count, Counted { cif, target: code_pointer(target), counter })
    }

    fn caller(&mut self, sig: &Signature, shape: &Shape) -> Result<Box<dyn Invoke>, Error> {
        Ok(Box::new(CifCall(self.cif(sig, shape)?)))
    }

    fn code_bytes(&self) -> usize {
        self.code.taken()
    }
}

/// A [`crate::Caller`]'s calls: `ffi_call` through the shape's cif, as [`FfiCall::invoke`] does.
struct CifCall(*const Cif);

// SAFETY: a cif is immutable once prepared and lives as long as the backend, which outlives every
// caller made from it (`Caller` borrows the factory).
unsafe impl Send for CifCall {}
// SAFETY: as for Send: `ffi_call` only reads the cif.
unsafe impl Sync for CifCall {}

impl Invoke for CifCall {
    unsafe fn call(&self, target: *const c_void, args: &[u64]) -> u64 {
        // SAFETY: see the Send impl: the cif outlives this call.
        let cif = unsafe { &*self.0 };
        let mut call = FfiCall { cif, args: [0; MAX_ARGS], ret: 0 };
        call.args[..args.len()].copy_from_slice(args);
        // SAFETY: `target` has the cif's signature, as the caller promised.
        unsafe { call.invoke(target) };
        call.ret
    }
}

fn status_name(status: ffi_status) -> String {
    let names = [
        (ffi_status_FFI_BAD_TYPEDEF, "FFI_BAD_TYPEDEF"),
        (ffi_status_FFI_BAD_ABI, "FFI_BAD_ABI"),
        (ffi_status_FFI_BAD_ARGTYPE, "FFI_BAD_ARGTYPE"),
    ];
    names.iter().find(|&&(s, _)| s == status).map_or_else(|| format!("status {status}"), |&(_, name)| name.to_owned())
}

/// `target` as the function pointer type `ffi_call` takes.
fn code_pointer(target: *const c_void) -> unsafe extern "C" fn() {
    // SAFETY: callers pass the address of a C function; it is only ever called through a cif
    // describing its real signature.
    unsafe { std::mem::transmute::<*const c_void, unsafe extern "C" fn()>(target) }
}

/// `intptr_t`'s libffi type.
fn intptr_type() -> *mut ffi_type {
    ffi_type_of(Value::Int { bytes: size_of::<isize>(), signed: true }, null_mut())
}

/// libffi's type for `v`; `handle` is the description of `HPy`.
fn ffi_type_of(v: Value, handle: *mut ffi_type) -> *mut ffi_type {
    match v {
        Value::Int { bytes, signed } => match (bytes, signed) {
            (1, true) => addr_of_mut!(ffi_type_sint8),
            (1, false) => addr_of_mut!(ffi_type_uint8),
            (2, true) => addr_of_mut!(ffi_type_sint16),
            (2, false) => addr_of_mut!(ffi_type_uint16),
            (4, true) => addr_of_mut!(ffi_type_sint32),
            (4, false) => addr_of_mut!(ffi_type_uint32),
            (_, true) => addr_of_mut!(ffi_type_sint64),
            (_, false) => addr_of_mut!(ffi_type_uint64),
        },
        Value::Pointer => addr_of_mut!(ffi_type_pointer),
        Value::Handle => handle,
        Value::F32 => addr_of_mut!(ffi_type_float),
        Value::F64 => addr_of_mut!(ffi_type_double),
    }
}

/// Reads a value stored in its natural representation at `p`, as [`Call`] encodes it.
///
/// # Safety
/// `p` must point to a readable, suitably aligned value of `v`'s type.
unsafe fn load(v: Value, p: *const c_void) -> u64 {
    // SAFETY: `p` points to a readable, aligned value of `v`'s type (the caller's contract), and
    // each arm reads that type.
    unsafe {
        match v {
            Value::Int { bytes: 1, signed } => widen(p.cast::<u8>().read().into(), 1, signed),
            Value::Int { bytes: 2, signed } => widen(p.cast::<u16>().read().into(), 2, signed),
            Value::Int { bytes: 4, signed } => widen(p.cast::<u32>().read().into(), 4, signed),
            Value::Int { .. } | Value::F64 => p.cast::<u64>().read(),
            Value::Pointer => p.cast::<usize>().read() as u64,
            Value::Handle => p.cast::<isize>().read() as u64,
            Value::F32 => p.cast::<u32>().read().into(),
        }
    }
}

/// Writes `bits` ([`Call`]'s encoding) at `p` in `v`'s natural representation.
///
/// # Safety
/// `p` must point to writable, suitably aligned storage for a value of `v`'s type.
unsafe fn store(v: Value, p: *mut c_void, bits: u64) {
    // SAFETY: `p` is writable, aligned storage for `v`'s type (the caller's contract), and each
    // arm writes that type.
    unsafe {
        match v {
            Value::Int { bytes: 1, .. } => p.cast::<u8>().write(bits as u8),
            Value::Int { bytes: 2, .. } => p.cast::<u16>().write(bits as u16),
            Value::Int { bytes: 4, .. } | Value::F32 => p.cast::<u32>().write(bits as u32),
            Value::Int { .. } | Value::F64 => p.cast::<u64>().write(bits),
            Value::Pointer => p.cast::<usize>().write(bits as usize),
            Value::Handle => p.cast::<isize>().write(bits as isize),
        }
    }
}

/// Whether libffi passes this result as a widened `ffi_arg`.
fn widened_result(v: Value) -> bool {
    matches!(v, Value::Int { bytes, .. } if bytes < size_of::<ffi_arg>())
}

/// Reads a result libffi stored at `p`.
///
/// # Safety
/// As [`load`], with `p` large enough for an `ffi_arg`.
unsafe fn load_result(v: Value, p: *const c_void) -> u64 {
    match v {
        // `ffi_arg` is 32 bits on 32-bit targets.
        #[allow(clippy::unnecessary_cast)]
        Value::Int { bytes, signed } if widened_result(v) => {
            // SAFETY: `p` has room and alignment for an `ffi_arg` (the caller's contract).
            widen(unsafe { p.cast::<ffi_arg>().read() } as u64, bytes, signed)
        }
        // SAFETY: the caller's contract is `load`'s.
        _ => unsafe { load(v, p) },
    }
}

/// Stores a result where libffi expects it at `p`.
///
/// # Safety
/// As [`store`], with `p` large enough for an `ffi_arg`.
unsafe fn store_result(v: Value, p: *mut c_void, bits: u64) {
    match v {
        Value::Int { bytes, signed } if widened_result(v) => {
            // SAFETY: `p` has room and alignment for an `ffi_arg` (the caller's contract).
            unsafe { p.cast::<ffi_arg>().write(widen(bits, bytes, signed) as ffi_arg) }
        }
        // SAFETY: the caller's contract is `store`'s.
        _ => unsafe { store(v, p, bits) },
    }
}

/// Storage for one argument or result: room and alignment for any supported value and `ffi_arg`.
type Word = u64;
const _: () = assert!(size_of::<ffi_arg>() <= size_of::<Word>() && align_of::<ffi_arg>() <= align_of::<Word>());

/// The callback of intercepting closures: runs the handler over a copy of the call.
///
/// # Safety
/// Only called by libffi for closures made with a `Hook<Cif>`, with that call's arguments and result.
unsafe extern "C" fn on_intercept(_: *mut ffi_cif, result: *mut c_void, args: *mut *mut c_void, hook: *mut c_void) {
    // SAFETY: the closure's user data is its hook, which (with its cif) lives as long as the closure.
    let (hook, cif) = unsafe {
        let hook = &*hook.cast::<Hook<Cif>>();
        (hook, &*hook.plan)
    };
    let mut call = FfiCall { cif, args: [0; MAX_ARGS], ret: 0 };
    for (i, &v) in cif.args.iter().enumerate() {
        // SAFETY: libffi passes one pointer per argument, to a value of the cif's type for it.
        call.args[i] = unsafe { load(v, *args.add(i)) };
    }
    // SAFETY: the handler was given with `data` for calls of this signature, which `call` is.
    unsafe { (hook.handler)(&mut call, hook.data) };
    if let Some(v) = cif.ret {
        // SAFETY: libffi's result buffer holds at least an `ffi_arg`, aligned, for non-void results.
        unsafe { store_result(v, result, call.ret) };
    }
}

/// The callback of `swap_arg0` closures: rewrites argument 0 in place and forwards the call.
///
/// # Safety
/// Only called by libffi for closures made with a `Swap`, with that call's arguments and result.
unsafe extern "C" fn on_swap_arg0(_: *mut ffi_cif, result: *mut c_void, args: *mut *mut c_void, swap: *mut c_void) {
    // SAFETY: the closure's user data is its `Swap`, which lives as long as the closure; libffi's
    // copy of argument 0 is this call's own storage, sized for its type; the target has the cif's
    // signature, and `result`/`args` are this call's.
    unsafe {
        let swap = &*swap.cast::<Swap>();
        store(swap.arg0, *args, swap.value);
        ffi_call(swap.cif, Some(swap.target), result, args);
    }
}

/// The callback of `swap_arg0_and_mark` closures: as `on_swap_arg0`, then marks.
///
/// # Safety
/// Only called by libffi for closures made with a `Swap` and its `Mark`, with that call's arguments
/// and result.
unsafe extern "C" fn on_swap_arg0_and_mark(
    _: *mut ffi_cif,
    result: *mut c_void,
    args: *mut *mut c_void,
    swap: *mut c_void,
) {
    // SAFETY: as `on_swap_arg0`; and (Trampolines::swap_arg0_and_mark's contract) `*(arg0 + via)`
    // is a valid pointer, with a byte at `at` the caller means to be written.
    unsafe {
        let swap = &*swap.cast::<MarkingSwap>();
        let caller = (*args).cast::<u64>().read_unaligned(); // argument 0 as it came (integer class)
        store(swap.swap.arg0, *args, swap.swap.value);
        ffi_call(swap.swap.cif, Some(swap.swap.target), result, args);
        let behind = (caller as *const u8).offset(swap.mark.via as isize).cast::<*mut u8>().read_unaligned();
        behind.offset(swap.mark.at as isize).write(swap.mark.byte);
    }
}

/// The callback of `count` closures: counts, then forwards the call as it came.
///
/// # Safety
/// Only called by libffi for closures made with a `Counted`, with that call's arguments and result.
unsafe extern "C" fn on_count(_: *mut ffi_cif, result: *mut c_void, args: *mut *mut c_void, counted: *mut c_void) {
    // SAFETY: the closure's user data is its `Counted`, which lives as long as the closure, as its
    // counter must (`Trampolines::count`); the target has the cif's signature, and `result`/`args`
    // are this call's.
    unsafe {
        let counted = &*counted.cast::<Counted>();
        (*counted.counter).fetch_add(1, Ordering::Relaxed);
        ffi_call(counted.cif, Some(counted.target), result, args);
    }
}

/// A [`Call`] over copies of a closure's arguments.
struct FfiCall<'a> {
    cif: &'a Cif,
    args: [u64; MAX_ARGS],
    ret: u64,
}

impl Call for FfiCall<'_> {
    fn arg(&self, i: usize) -> u64 {
        assert!(i < self.cif.args.len(), "argument {i} of a {}-parameter call", self.cif.args.len());
        self.args[i]
    }

    fn set_arg(&mut self, i: usize, value: u64) {
        assert!(i < self.cif.args.len(), "argument {i} of a {}-parameter call", self.cif.args.len());
        self.args[i] = value;
    }

    unsafe fn invoke(&mut self, target: *const c_void) {
        let n = self.cif.args.len();
        let mut words: [Word; MAX_ARGS] = [0; MAX_ARGS];
        let mut pointers = [null_mut::<c_void>(); MAX_ARGS];
        for (i, &v) in self.cif.args.iter().enumerate() {
            let word: *mut c_void = (&mut words[i] as *mut Word).cast();
            // SAFETY: a `Word` has room and alignment for any value (asserted at compile time).
            unsafe { store(v, word, self.args[i]) };
            pointers[i] = word;
        }
        let mut result: Word = 0;
        let result_ptr: *mut c_void = (&mut result as *mut Word).cast();
        // The cif is only read by ffi_call; libffi's signature wants it mutable.
        let cif = (&self.cif.cif as *const ffi_cif).cast_mut();
        // SAFETY: `target` has the cif's signature (the caller's contract); `pointers` holds one
        // pointer per argument, to its value, and `result` has room for any result.
        unsafe { ffi_call(cif, Some(code_pointer(target)), result_ptr, pointers[..n].as_mut_ptr()) };
        // SAFETY: `result` holds what libffi stored for this result type.
        self.ret = self.cif.ret.map_or(0, |v| unsafe { load_result(v, result_ptr) });
    }

    fn ret(&self) -> u64 {
        self.ret
    }

    fn set_ret(&mut self, value: u64) {
        if self.cif.ret.is_some() {
            self.ret = value;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widening() {
        assert_eq!(widen(0xff, 1, true), u64::MAX);
        assert_eq!(widen(0x1ff, 1, false), 0xff);
        assert_eq!(widen(0x8000, 2, true), 0xffff_ffff_ffff_8000);
        assert_eq!(widen(0xdead_beef_8000_0000, 4, false), 0x8000_0000);
        assert_eq!(widen(0x8000_0000_0000_0000, 8, true), 0x8000_0000_0000_0000);
    }

    #[test]
    fn values_round_trip_through_their_natural_representation() {
        let int = |bytes, signed| Value::Int { bytes, signed };
        let cases = [
            (int(1, true), (-3i64) as u64),
            (int(2, false), 0xfffe),
            (int(4, true), (-70000i64) as u64),
            (int(8, false), u64::MAX - 1),
            (Value::Pointer, 0x1234_5678),
            (Value::Handle, 42),
            (Value::F32, 1.5f32.to_bits().into()),
            (Value::F64, 2.25f64.to_bits()),
        ];
        for (v, bits) in cases {
            let mut word: Word = 0;
            let p: *mut c_void = (&mut word as *mut Word).cast();
            // SAFETY: `word` has room and alignment for every value.
            unsafe {
                store(v, p, bits);
                assert_eq!(load(v, p), bits, "{v:?}");
                store_result(v, p, bits);
                assert_eq!(load_result(v, p), bits, "{v:?} as a result");
            }
        }
    }
}
