//! One implementation of a `__cdict__` entry: a C function of one signature, with its home
//! context family and provider, and the prepared call that Python's calls of it go through.
//!
//! A call from Python (docs/cdict.md, "Calling from Python"): the arguments are marshalled in the
//! runtime's context (`marshal`); then, if the function takes an `HPyContext *` first, the call
//! enters the provider's family the way every cross-family call does (`crossing::entry::enter`:
//! CPython's debug mode hands out a fresh context, PyPy's debug context is revalidated), moves
//! handle arguments into that context (`crossing::transfer`), calls through the prepared call,
//! closes what it moved and moves a handle result back. A function without a context (a plain C
//! function, or a CPython-API stub, which enters the provider itself) is called directly.

use crate::cdict::marshal::{from_c, to_c, Held, Kind};
use crate::crossing::entry::{enter, ValidAfterCall};
use crate::crossing::family::{Entry, Family, Mode};
use crate::crossing::plan::trampolines;
use crate::crossing::transfer::Transfer;
use crate::hpy;
use crate::hpy::cpython::CPython;
use crate::hpy::error::{Error, Exception, Result};
use crate::hpy::host::host;
use crate::hpy::values::close;
use capsules::signature::{CType, Signature};
use hpy_sys::{cpy_PyObject, HPy, HPyContext};
use std::ffi::c_void;
use std::mem::MaybeUninit;
use std::sync::OnceLock;
use trampolines::{widen, Caller, Part, RegisterInvoker, MAX_ARGS};

/// The implementation is a CPython-API stub (`PyObject *` instead of `HPy`, no context).
pub const FLAG_CAPI: u32 = 1;
/// The implementation may be called without the GIL (the provider said so: `HPYBRIDGE_ENTRY_NOGIL`,
/// `cdict::info`). Python calls of one that takes a pointer release the GIL around the call.
pub const FLAG_NOGIL: u32 = 2;
/// The implementation is a foreign C function adopted by `hpybridge.cfunction` (ctypes, cffi,
/// numba, Cython, SciPy, a capsule or an address): no context, called directly (`cdict::adopt`).
pub const FLAG_FOREIGN: u32 = 4;

pub struct Implementation {
    /// `<module>.<name>`, for messages.
    pub entry: String,
    pub signature: Signature,
    pub function: *const c_void,
    /// The provider's module.
    pub provider: String,
    /// The family of the context the function runs in (its provider's), or `None` for a
    /// CPython-API stub, which takes no context.
    pub family: Option<Family>,
    /// The provider's home context.
    home: *mut HPyContext,
    pub flags: u32,
    /// The kinds of the Python-visible parameters (the leading `HPyContext *` left out).
    params: Box<[Kind]>,
    /// The words of the trailing parameters the runtime fills in itself (an adopted Cython
    /// `cpdef`'s `__pyx_skip_dispatch`, a `LowLevelCallable`'s `user_data`): not in `signature`,
    /// which is what Python sees, but in the prepared call's.
    bound: Box<[u64]>,
    /// What `bound` binds, for `repr` and messages (`argument 2 (int) = 0`), if anything.
    pub binds: Option<String>,
    /// The function's own signature: `signature` and the bound parameters after it.
    pub full_signature: Signature,
    ret: Kind,
    takes_context: bool,
    /// Every parameter and the result are scalars passed in registers: calls may take `call_scalar`.
    scalar: bool,
    /// Every parameter and the result are scalars or `HPy`, passed in registers: calls may take
    /// `call_native` (a handle only when the provider's handles are CPython objects' addresses).
    native: bool,
    /// Why Python cannot call it, if it cannot.
    pub refused: Option<String>,
    /// `FLAG_NOGIL` and a pointer parameter (a buffer, a string, an address: work that grows with
    /// the data): Python's calls release the GIL around the C call. A NOGIL function of scalars
    /// keeps it: releasing and taking it back costs more than such a call.
    releases_gil: bool,
    caller: Caller<'static>,
    /// The signature's register invoker, called directly by `call_native` where there is one.
    invoker: Option<RegisterInvoker>,
    /// The register invoker again when `native` holds, every Python-visible parameter and the
    /// result are `double` and nothing is bound: `call_native` then takes `call_doubles`.
    doubles: Option<RegisterInvoker>,
    /// How calls cross from the runtime's family to the provider's and back, found on the first
    /// call (it needs a valid runtime context).
    crossing: OnceLock<Crossing>,
    /// The object-call stub of scalar and `HPy` signatures on CPython (`object_call`), made by
    /// the first instance that asks: its address, or `None` if there is none.
    object_call: OnceLock<Option<usize>>,
}

// SAFETY: immutable after construction but for the `OnceLock`; its pointers are process-lifetime
// functions and contexts, and every call holds the GIL.
unsafe impl Send for Implementation {}
// SAFETY: as above.
unsafe impl Sync for Implementation {}

/// The family of the runtime's own context: fixed for the process (the runtime is loaded once).
static RUNTIME_FAMILY: OnceLock<Family> = OnceLock::new();

impl Implementation {
    /// An implementation of `entry` (`module.name`) by `function` of `signature`, whose context
    /// family is `family` with home context `home` (`None`: a CPython-API stub).
    pub fn new(
        entry: String,
        signature: &Signature,
        function: *const c_void,
        provider: &str,
        family: Option<Family>,
        home: *mut HPyContext,
    ) -> Result<Implementation> {
        let flags = if family.is_none() { FLAG_CAPI } else { 0 };
        Implementation::make(entry, signature, signature, &[], function, provider, family, home, flags)
    }

    /// A foreign C function of `full` adopted as an implementation of `entry` by `provider`
    /// (`cdict::adopt`): no context, no family. Its last `bound.len()` parameters are filled in
    /// with `bound` by every call and are not part of its (Python-visible) signature.
    pub fn foreign(
        entry: String,
        full: &Signature,
        bound: &[u64],
        function: *const c_void,
        provider: &str,
    ) -> Result<Implementation> {
        let visible = Signature { ret: full.ret, args: full.args[..full.args.len() - bound.len()].to_vec() };
        let flags = FLAG_FOREIGN;
        let home = std::ptr::null_mut();
        Implementation::make(entry, &visible, full, bound, function, provider, None, home, flags)
    }

    #[allow(clippy::too_many_arguments)]
    fn make(
        entry: String,
        signature: &Signature,
        full: &Signature,
        bound: &[u64],
        function: *const c_void,
        provider: &str,
        family: Option<Family>,
        home: *mut HPyContext,
        flags: u32,
    ) -> Result<Implementation> {
        let takes_context = signature.takes_context();
        let visible = &signature.args[usize::from(takes_context)..];
        let params: Box<[Kind]> = visible.iter().map(Kind::of).collect();
        let refused = refusal(signature, takes_context, &params, family.is_some());
        let scalar = refused.is_none() && scalar_signature(&params, Kind::of(&signature.ret), bound.len(), false);
        let native =
            refused.is_none() && scalar_signature(&params, Kind::of(&signature.ret), bound.len(), takes_context);
        let ret = Kind::of(&signature.ret);
        let all_doubles = ret == Kind::Double && params.iter().all(|k| *k == Kind::Double) && bound.is_empty();
        let caller = trampolines()?.caller(full).map_err(|e| {
            Error::new(Exception::RuntimeError, format!("cannot prepare calls of {entry} \"{full}\": {e}"))
        })?;
        let binds = (!bound.is_empty()).then(|| {
            let first = full.args.len() - bound.len();
            let each = full.args[first..].iter().zip(bound).enumerate().map(|(i, (ty, &word))| {
                let value = if matches!(ty, CType::Pointer { .. }) { format!("{word:#x}") } else { word.to_string() };
                format!("argument {} ({}) = {value}", first + i + 1, ty.qualified())
            });
            each.collect::<Vec<_>>().join(", ")
        });
        Ok(Implementation {
            entry,
            signature: signature.clone(),
            function,
            provider: provider.to_owned(),
            flags,
            family,
            home,
            params,
            bound: bound.into(),
            binds,
            full_signature: full.clone(),
            ret,
            takes_context,
            scalar,
            native,
            refused,
            releases_gil: false,
            invoker: caller.register_invoker(),
            doubles: caller.register_invoker().filter(|_| native && all_doubles),
            caller,
            crossing: OnceLock::new(),
            object_call: OnceLock::new(),
        })
    }

    /// This implementation with `flags` added (what the provider said of it, checked by
    /// `cdict::info`: `FLAG_NOGIL` only for a signature without context, handles or objects).
    pub fn with_flags(mut self, flags: u32) -> Implementation {
        self.flags |= flags;
        let pointer = |k: &Kind| matches!(k, Kind::Text | Kind::Array { .. } | Kind::Address { .. });
        self.releases_gil = self.flags & FLAG_NOGIL != 0 && self.params.iter().any(pointer);
        self
    }

    /// The provider's home context (null for an adopted foreign function).
    pub fn home(&self) -> *mut HPyContext {
        self.home
    }

    /// The words the runtime passes for the bound trailing parameters (empty if none).
    pub fn bound(&self) -> &[u64] {
        &self.bound
    }

    /// The fast path of an all-scalar signature: when every argument is exactly what its
    /// parameter takes without running Python code (a `float` for `double` and `float`, an `int`
    /// in range for an integer, `True` or `False` for `bool`) and the function needs no crossing
    /// (no context, or a provider entered at its home context from a runtime not in debug mode,
    /// once the first call has found the crossing): converts them straight into registers' words,
    /// calls, and converts the result. `None` if it does not apply: then nothing was called and no
    /// Python code ran, and the general path (`marshal`, `invoke`) takes the call, and its errors.
    ///
    /// # Safety
    /// As `marshal`; the caller holds the GIL.
    #[inline]
    pub unsafe fn call_scalar(&self, ctx: *mut HPyContext, args: &[HPy]) -> Option<Result<HPy>> {
        if !self.scalar || args.len() != self.params.len() {
            return None;
        }
        let mut words = [0u64; SCALAR_WORDS];
        let offset = usize::from(self.takes_context);
        if self.takes_context {
            let crossing = self.crossing.get()?;
            let entry = self.family.as_ref().map_or(Entry::Home, Family::entry);
            if crossing.runtime_debug || entry != Entry::Home || RUNTIME_FAMILY.get()?.entry() != Entry::Home {
                return None;
            }
            words[0] = self.home as u64;
        }
        for (i, (&h, &kind)) in args.iter().zip(self.params.iter()).enumerate() {
            // SAFETY: the caller's contract; none of these runs Python code for the values accepted.
            words[offset + i] = unsafe { scalar_word(ctx, h, kind)? };
        }
        let end = offset + args.len() + self.bound.len();
        words[offset + args.len()..end].copy_from_slice(&self.bound);
        // SAFETY: `function` has this signature and the words its arguments (the bound ones last);
        // a context argument is the provider's home context, valid whenever it is called
        // (`Entry::Home`).
        let word = unsafe { self.caller.call(self.function, &words[..end]) };
        // SAFETY: `ctx` is valid for the current call; the word is this signature's scalar result.
        Some(unsafe {
            if hpy!(ctx, ctx_Err_Occurred) != 0 {
                Err(Error::Set)
            } else {
                from_c(ctx, self.ret, word)
            }
        })
    }

    /// The native fast path (CPython only, src/module/cfunction_vectorcall.rs): `call_scalar` with
    /// CPython's own objects, `args` straight from CPython's vectorcall, for a runtime in CPython's
    /// universal or trace mode. Also takes `HPy` parameters and results when the provider's handles
    /// are the runtime's (`Transfer::Shared`: universal or trace mode), since such a handle is the
    /// object's address plus one: an argument is borrowed, a result is the caller's new reference.
    /// `None` if it does not apply (then nothing was called and no Python code ran): the caller
    /// takes HPy's path, which gives every message.
    ///
    /// # Safety
    /// The GIL is held; `args` are live objects; the runtime's context is a CPython universal or
    /// trace context (the caller checked), which is `ctx`, valid at any time.
    #[inline]
    pub unsafe fn call_native(&self, api: &CPython, args: &[*mut cpy_PyObject]) -> Native {
        if !self.native || args.len() != self.params.len() {
            return Native::NotTaken;
        }
        if let Some(invoke) = self.doubles {
            // SAFETY: the caller's contract; `doubles` is this signature's register invoker.
            return unsafe { self.call_doubles(api, args, invoke) };
        }
        let mut words = [0u64; SCALAR_WORDS];
        let offset = usize::from(self.takes_context);
        if self.takes_context {
            match self.crossing.get() {
                Some(crossing) if crossing.native => words[0] = self.home as u64,
                _ => return Native::NotTaken,
            }
        }
        for i in 0..args.len() {
            // SAFETY: the caller's contract; nothing here runs Python code.
            match unsafe { native_word(api, args[i], self.params[i]) } {
                Some(word) => words[offset + i] = word,
                None => return Native::NotTaken,
            }
        }
        let end = offset + args.len() + self.bound.len();
        if !self.bound.is_empty() {
            words[offset + args.len()..end].copy_from_slice(&self.bound);
        }
        // SAFETY: `function` has this signature and the words its arguments (the bound ones last);
        // a context argument is the provider's home context, valid whenever it is called
        // (`Entry::Home`); handles are the objects' addresses plus one in the provider's family too
        // (`Transfer::Shared`). The register invoker loads one word per parameter from `words`.
        let word = unsafe {
            match self.invoker {
                Some(invoke) => match (invoke(words.as_ptr(), self.function), self.ret) {
                    (raw, Kind::Int { bytes, signed, .. }) => widen(raw, bytes, signed),
                    (raw, _) => raw,
                },
                None => self.caller.call(self.function, &words[..end]),
            }
        };
        // SAFETY: the GIL is held; the word is this signature's result, a new handle for `HPy`.
        unsafe { native_result(api, self.ret, word) }
    }

    /// `call_native` for `double f([HPyContext *,] double, ...)` with nothing bound: the same
    /// checks, call and result, without matching each parameter's kind (the most common numeric
    /// signature would pay for that on every call).
    ///
    /// # Safety
    /// As `call_native`, with `args.len() == self.params.len()` (checked by it) and `invoke` this
    /// signature's register invoker.
    // Out of line: inlined, it changes the register allocation of `call_native`'s general path
    // (measured: 8 more instructions per `HPy same(HPyContext *, HPy)` call).
    #[inline(never)]
    unsafe fn call_doubles(&self, api: &CPython, args: &[*mut cpy_PyObject], invoke: RegisterInvoker) -> Native {
        let mut words = [0u64; SCALAR_WORDS];
        let offset = usize::from(self.takes_context);
        if self.takes_context {
            match self.crossing.get() {
                Some(crossing) if crossing.native => words[0] = self.home as u64,
                _ => return Native::NotTaken,
            }
        }
        // `scalar_signature` keeps the context and the parameters within `SCALAR_WORDS`.
        for (word, &obj) in words[offset..].iter_mut().zip(args) {
            // SAFETY: the caller's contract; the type is checked before the value is read.
            unsafe {
                if api.type_of(obj) != api.float_type {
                    return Native::NotTaken;
                }
                *word = api.float_value(obj).to_bits();
            }
        }
        // SAFETY: as in `call_native`: `function` has this signature, the invoker loads one word
        // per parameter from `words`, a context argument is the provider's home context.
        let word = unsafe { invoke(words.as_ptr(), self.function) };
        // SAFETY: the GIL is held; the word is a `double` result.
        unsafe { native_result(api, Kind::Double, word) }
    }

    /// The object-call stub of this implementation (src/module/cfunction_vectorcall.rs), made on
    /// first use, for `call_native`'s signatures of `double`, integer, `bool` and `HPy`
    /// parameters only and a `double`, integer, `bool`, `void` or `HPy` result, nothing bound: a
    /// CPython vectorcall function that takes calls `call_native` takes of them (no keywords, the
    /// right count, every `double` argument exactly a `float`, every integer one an exact `int`
    /// of one digit whose value the C type holds, every `bool` one `True` or `False`), calls the
    /// function directly (a context argument is the provider's home context, a handle the
    /// object's address plus one) and sends every other call on: with integer parameters to
    /// `native`, the runtime's vectorcall function (whose `call_native` takes the integers of more
    /// than one digit), else to `fallback`, HPy's trampoline of the call slot (`call_native` would
    /// take none of them); `null_result` makes the error of an `HPy` result NULL without an
    /// exception.
    /// `None` for other signatures (`float`, pointers), integer parameters where CPython's `int`
    /// layout did not check out, a context that needs a crossing, or a backend without such stubs
    /// (libffi): the instance then gets the runtime's general vectorcall function.
    ///
    /// # Safety
    /// `ctx` is the runtime's context, a CPython universal or trace context (the caller checked),
    /// valid now; `native` and `fallback` vectorcall functions for every call of this
    /// implementation's instances, `null_result` a function of
    /// `trampolines::ObjectCall::null_result`'s type.
    pub unsafe fn object_call(
        &self,
        ctx: *mut HPyContext,
        api: &CPython,
        null_result: *const c_void,
        (native, fallback): (*const c_void, *const c_void),
    ) -> Option<*const c_void> {
        let code = self.object_call.get_or_init(|| {
            let part = |kind: &Kind| match *kind {
                Kind::Double => Some(Part::Double),
                Kind::Handle => Some(Part::Object),
                Kind::Int { bytes, signed, .. } => Some(Part::Int { bits: 8 * bytes as u8, signed }),
                Kind::Bool => Some(Part::Bool),
                _ => None,
            };
            let params = self.params.iter().map(part).collect::<Option<Vec<_>>>()?;
            let ret = if self.ret == Kind::Void { Part::Void } else { part(&self.ret)? };
            if !self.native || !self.bound.is_empty() {
                return None;
            }
            let first = if self.takes_context {
                // SAFETY: the caller's contract.
                Some(unsafe { self.crossing(ctx) }.native.then_some(self.home as u64)?)
            } else {
                None
            };
            let ints = params.iter().any(|p| matches!(p, Part::Int { .. }));
            let general = if ints { native } else { fallback };
            let request = api.object_call(self.function, first, (params, ret), null_result, general);
            // A factory that cannot make it (code memory exhausted, say) leaves the general path.
            trampolines().ok()?.object_call(&request).ok()?.map(|code| code as usize)
        });
        code.map(|code| code as *const c_void)
    }

    /// Converts `args` for this implementation: `Error::Raise` if one does not fit (then nothing
    /// stays borrowed), `Error::Set` if Python code a conversion ran raised.
    ///
    /// # Safety
    /// `ctx` must be the runtime's context of the current call and `args` live handles of it.
    pub unsafe fn marshal(&self, ctx: *mut HPyContext, args: &[HPy]) -> Result<Marshalled> {
        if let Some(why) = &self.refused {
            return Err(Error::new(
                Exception::TypeError,
                format!("{}() \"{}\" cannot be called from Python: {why}", self.entry, self.signature),
            ));
        }
        if args.len() != self.params.len() {
            let n = self.params.len();
            return Err(Error::new(
                Exception::TypeError,
                format!(
                    "{}() takes {n} argument{} (\"{}\"), got {}",
                    self.entry,
                    if n == 1 { "" } else { "s" },
                    self.signature,
                    args.len()
                ),
            ));
        }
        let offset = usize::from(self.takes_context);
        let mut m = Marshalled { words: Words::new(self.caller.params()), held: Held::default() };
        for (i, (&h, &kind)) in args.iter().zip(self.params.iter()).enumerate() {
            let what =
                || format!("{}() argument {} ({})", self.entry, i + 1, self.signature.args[offset + i].qualified());
            // SAFETY: the caller's contract; `m.held` lives until the call returns.
            m.words.as_mut_slice()[offset + i] = unsafe { to_c(ctx, h, kind, &mut m.held, &what)? };
        }
        let words = m.words.as_mut_slice();
        let first = words.len() - self.bound.len();
        words[first..].copy_from_slice(&self.bound);
        Ok(m)
    }

    /// Calls the function with `m` and returns its result as a new handle of `ctx`, or the
    /// exception the provider set.
    ///
    /// # Safety
    /// As `marshal`, with `m` what `marshal` made of this call's arguments; the caller holds the GIL.
    pub unsafe fn invoke(&self, ctx: *mut HPyContext, mut m: Marshalled) -> Result<HPy> {
        let mut failed = false;
        let word = if self.takes_context {
            let mut word = 0;
            // SAFETY: `ctx` is valid now.
            let crossing = unsafe { self.crossing(ctx) };
            let runtime = RUNTIME_FAMILY.get().expect("set above");
            // The runtime's own CPython debug context stays valid while it waits for this call.
            let waiting = if runtime.entry() == Entry::ThroughTrampolineCall { ctx } else { std::ptr::null_mut() };
            let entry = self.family.as_ref().map_or(Entry::Home, Family::entry);
            let call = |provider: *mut HPyContext| {
                // SAFETY: `provider` is valid now (`enter` gives it), `ctx` too, and the words hold
                // this signature's arguments, handles of `ctx` for `HPy` parameters.
                unsafe { word = self.call_in(ctx, provider, m.words.as_mut_slice(), crossing, &mut failed) }
            };
            // SAFETY: `home` is the provider's home context, of the family `entry` is for;
            // `waiting` is null or the runtime's valid debug context; the caller holds the GIL.
            unsafe { enter(entry, self.home, waiting, call) };
            word
        } else if self.releases_gil {
            // Buffers and strings stay held by `m`, so their memory outlives the call; the function
            // touches no Python object (`cdict::info` refused NOGIL for those signatures).
            // SAFETY: `ctx` is valid for the current call, which holds the GIL; it is taken back
            // before anything else uses `ctx`.
            let state = unsafe { hpy!(ctx, ctx_LeavePythonExecution) };
            // SAFETY: `function` has this signature, and the words its arguments.
            let word = unsafe { self.caller.call(self.function, m.words.as_mut_slice()) };
            // SAFETY: `state` is what leaving gave, on this thread.
            unsafe { hpy!(ctx, ctx_ReenterPythonExecution, state) };
            word
        } else {
            // SAFETY: `function` has this signature, and the words its arguments.
            unsafe { self.caller.call(self.function, m.words.as_mut_slice()) }
        };
        // SAFETY: `ctx` is valid for the current call; the word is this signature's result. A
        // `char *` result may point into an argument (a buffer, a copy of a string): converted first.
        let result = unsafe { self.result(ctx, word, failed) };
        drop(m); // buffers and objects are the caller's again
        result
    }

    /// How calls of this implementation, which takes a context, cross between the runtime's family
    /// and the provider's: found once.
    ///
    /// # Safety
    /// `ctx` is the runtime's context, valid now.
    unsafe fn crossing(&self, ctx: *mut HPyContext) -> Crossing {
        // SAFETY: `ctx` is valid now; `home` is the provider's home context, valid for calls
        // unless it is a CPython debug context (which `between` does not use).
        *self.crossing.get_or_init(|| unsafe {
            let runtime = RUNTIME_FAMILY.get_or_init(|| Family::of(ctx));
            let provider = self.family.as_ref().expect("implementations taking a context have a family");
            let to_provider = Transfer::between(runtime, ctx, provider, self.home);
            let to_runtime = Transfer::between(provider, self.home, runtime, ctx);
            let runtime_debug = runtime.mode() == Some(Mode::Debug);
            Crossing {
                to_provider,
                to_runtime,
                runtime_debug,
                native: !runtime_debug
                    && provider.entry() == Entry::Home
                    && to_provider == Transfer::Shared
                    && to_runtime == Transfer::Shared,
            }
        })
    }

    /// The call in the provider's context `provider`: moves handle arguments in, calls, closes
    /// them, and moves a handle result back to `ctx`. Sets `failed` if a handle could not move.
    ///
    /// # Safety
    /// Both contexts valid now; `words` this signature's arguments, handles of `ctx`.
    unsafe fn call_in(
        &self,
        ctx: *mut HPyContext,
        provider: *mut HPyContext,
        words: &mut [u64],
        crossing: Crossing,
        failed: &mut bool,
    ) -> u64 {
        let Crossing { to_provider, to_runtime, runtime_debug, .. } = crossing;
        words[0] = provider as u64;
        let moving = to_provider != Transfer::Shared;
        let mut moved = [const { MaybeUninit::<HPy>::uninit() }; MAX_ARGS];
        let mut count = 0;
        if moving {
            for (i, kind) in self.params.iter().enumerate() {
                if *kind != Kind::Handle {
                    continue;
                }
                let h = HPy { _i: words[i + 1] as isize };
                // SAFETY: both contexts are valid now and `h` is a live handle of `ctx`.
                let m = unsafe { to_provider.moved(ctx, provider, h) };
                if m.is_null() {
                    // SAFETY: the first `count` were moved above and are the provider's to close.
                    moved[..count].iter().for_each(|m| unsafe { close(provider, m.assume_init()) });
                    *failed = true;
                    return 0;
                }
                moved[count].write(m);
                count += 1;
                words[i + 1] = m._i as u64;
            }
        }
        let word = {
            // The provider may call Python, which may call the runtime again, deeper than debug
            // mode's cache of contexts: the runtime's own debug context is valid again afterwards.
            // SAFETY: `ctx` is the runtime's debug context, valid now; the guard is dropped before
            // this call returns.
            let _valid = runtime_debug.then(|| unsafe { ValidAfterCall::new(ctx) });
            // SAFETY: `function` has this signature; its context and handles are now `provider`'s.
            unsafe { self.caller.call(self.function, words) }
        };
        // SAFETY: all `count` were written above and are the provider's to close.
        moved[..count].iter().for_each(|m| unsafe { close(provider, m.assume_init()) });
        if self.ret == Kind::Handle && to_runtime != Transfer::Shared && word != 0 {
            // SAFETY: `word` is a new handle of the provider's, which `consumed` takes over.
            return unsafe { to_runtime.consumed(provider, ctx, HPy { _i: word as isize }) }._i as u64;
        }
        word
    }

    /// The Python value of result `word` (owned by this call), or the provider's exception.
    ///
    /// # Safety
    /// `ctx` valid for the current call; `word` this signature's result, a handle of `ctx` for `HPy`.
    unsafe fn result(&self, ctx: *mut HPyContext, word: u64, failed: bool) -> Result<HPy> {
        // SAFETY: the caller's contract; what the result owns is released once.
        unsafe {
            if failed || hpy!(ctx, ctx_Err_Occurred) != 0 {
                match self.ret {
                    Kind::Handle => close(ctx, HPy { _i: word as isize }),
                    Kind::Object if word != 0 => {
                        host().expect("objects were passed").dec_ref(word as *mut cpy_PyObject)
                    }
                    _ => {}
                }
                return Err(Error::Set);
            }
            match self.ret {
                Kind::Handle | Kind::Object if word == 0 => Err(Error::new(
                    Exception::SystemError,
                    format!("{}() returned NULL without setting an exception", self.entry),
                )),
                Kind::Handle => Ok(HPy { _i: word as isize }),
                Kind::Object => {
                    let obj = word as *mut cpy_PyObject;
                    let h = hpy!(ctx, ctx_FromPyObject, obj);
                    host().expect("objects were passed").dec_ref(obj);
                    crate::hpy::error::check(h)
                }
                kind => from_c(ctx, kind, word),
            }
        }
    }
}

/// How a call crosses between the runtime's family and the provider's.
#[derive(Clone, Copy)]
struct Crossing {
    to_provider: Transfer,
    to_runtime: Transfer,
    /// The runtime runs in debug mode: its context must be made valid again after the call.
    runtime_debug: bool,
    /// `call_native` may call: the runtime is not in debug mode, the provider is entered at its
    /// home context, and handles need no moving either way.
    native: bool,
}

/// Arguments converted for one call, and what they borrow until it returns.
pub struct Marshalled {
    words: Words,
    held: Held,
}

/// How many words a call keeps on the stack; calls with more parameters allocate theirs.
const INLINE_WORDS: usize = 8;

/// The words of one call, one per parameter: on the stack for the usual signatures (a call then
/// allocates nothing and moves few bytes), on the heap beyond `INLINE_WORDS`.
enum Words {
    Inline([u64; INLINE_WORDS], usize),
    Heap(Vec<u64>),
}

impl Words {
    fn new(n: usize) -> Words {
        if n <= INLINE_WORDS {
            Words::Inline([0; INLINE_WORDS], n)
        } else {
            Words::Heap(vec![0; n])
        }
    }

    fn as_mut_slice(&mut self) -> &mut [u64] {
        match self {
            Words::Inline(words, n) => &mut words[..*n],
            Words::Heap(words) => words,
        }
    }
}

/// At most this many words (six integer and eight floating-point registers would do; the context
/// is one of them) for `call_scalar`.
const SCALAR_WORDS: usize = 8;

/// Whether a signature of these Python-visible parameters, this result and `bound` bound integer
/// or pointer words after them takes the fast path: scalars only, all of them in registers
/// (System V: six integer registers, the context counted, eight floating-point ones). With
/// `handles`, `HPy` counts as a scalar too (`call_native`).
fn scalar_signature(params: &[Kind], ret: Kind, bound: usize, handles: bool) -> bool {
    let scalar = |k: &Kind| {
        matches!(k, Kind::Int { .. } | Kind::Bool | Kind::Float | Kind::Double) || (handles && *k == Kind::Handle)
    };
    let floats = params.iter().filter(|k| matches!(k, Kind::Float | Kind::Double)).count();
    params.iter().all(scalar)
        && (scalar(&ret) || ret == Kind::Void)
        && params.len() + bound - floats < 6
        && floats <= 8
        && params.len() + bound < SCALAR_WORDS
}

/// The word of `h` for a scalar parameter of `kind`, if `h` is exactly what it takes without
/// running Python code and in range; `None` otherwise (no exception left set).
///
/// # Safety
/// `ctx` must be valid for the current call and `h` a live handle of it.
#[inline]
unsafe fn scalar_word(ctx: *mut HPyContext, h: HPy, kind: Kind) -> Option<u64> {
    // SAFETY: the caller's contract; the type handles are borrowed handles of `ctx`. A `float`'s
    // value and an `int`'s are read without calling `__float__` or `__index__`.
    unsafe {
        match kind {
            Kind::Double | Kind::Float => {
                if hpy!(ctx, ctx_TypeCheck, h, (*ctx).h_FloatType) == 0 {
                    return None;
                }
                let d = hpy!(ctx, ctx_Float_AsDouble, h);
                if kind == Kind::Double {
                    return Some(d.to_bits());
                }
                let f = d as f32;
                (!f.is_infinite() || d.is_infinite()).then(|| u64::from(f.to_bits()))
            }
            Kind::Bool => {
                if hpy!(ctx, ctx_Is, h, (*ctx).h_True) != 0 {
                    Some(1)
                } else if hpy!(ctx, ctx_Is, h, (*ctx).h_False) != 0 {
                    Some(0)
                } else {
                    None
                }
            }
            Kind::Int { bytes, signed, .. } => {
                if hpy!(ctx, ctx_TypeCheck, h, (*ctx).h_LongType) == 0 {
                    return None;
                }
                let v = hpy!(ctx, ctx_Long_AsInt64_t, h);
                if v == -1 && hpy!(ctx, ctx_Err_Occurred) != 0 {
                    hpy!(ctx, ctx_Err_Clear); // beyond 64 bits: the general path says so
                    return None;
                }
                fits(v, bytes, signed).then_some(v as u64)
            }
            _ => None,
        }
    }
}

/// Whether `v` is in the range of an integer of `bytes` bytes.
fn fits(v: i64, bytes: usize, signed: bool) -> bool {
    match (bytes, signed) {
        (8, true) => true,
        (8, false) => v >= 0,
        (_, true) => (-(1i64 << (8 * bytes - 1))..(1i64 << (8 * bytes - 1))).contains(&v),
        (_, false) => (0..(1i64 << (8 * bytes))).contains(&v),
    }
}

/// `scalar_word` with CPython's objects: exact `float`, `int`, `True`/`False`; `HPy` is the
/// object's handle in a context whose handles are addresses plus one.
///
/// # Safety
/// The GIL is held and `obj` is a live object.
#[inline]
unsafe fn native_word(api: &CPython, obj: *mut cpy_PyObject, kind: Kind) -> Option<u64> {
    // SAFETY: the caller's contract; the type is checked before a value is read.
    unsafe {
        match kind {
            Kind::Double | Kind::Float => {
                if api.type_of(obj) != api.float_type {
                    return None;
                }
                let d = api.float_value(obj);
                if kind == Kind::Double {
                    return Some(d.to_bits());
                }
                let f = d as f32;
                (!f.is_infinite() || d.is_infinite()).then(|| u64::from(f.to_bits()))
            }
            Kind::Bool if obj == api.true_ => Some(1),
            Kind::Bool if obj == api.false_ => Some(0),
            Kind::Int { bytes, signed, .. } if api.type_of(obj) == api.long_type => {
                let v = api.long_value(obj)?;
                fits(v, bytes, signed).then_some(v as u64)
            }
            Kind::Handle => Some(obj as u64 + 1),
            _ => None,
        }
    }
}

/// What `call_native` did: kept small, so the fast path passes it in registers.
pub enum Native {
    /// It does not apply: nothing was called, no Python code ran.
    NotTaken,
    /// The result, a new reference, or NULL with the provider's exception (or `MemoryError`) set.
    Done(*mut cpy_PyObject),
    /// An `HPy` result NULL without an exception (a `SystemError` to raise).
    NullResult,
}

/// The object of result `word` of `kind`, or the provider's exception (`HPyErr_Occurred` after the
/// call, whatever the result), as `result` does on HPy's path.
///
/// # Safety
/// The GIL is held; `word` is the call's result, for `HPy` a new handle that is an address plus one.
#[inline]
unsafe fn native_result(api: &CPython, kind: Kind, word: u64) -> Native {
    // SAFETY: the caller's contract; a handle result is released once, on error.
    unsafe {
        if api.err_occurred() {
            if kind == Kind::Handle && word != 0 {
                api.dec_ref((word - 1) as *mut cpy_PyObject);
            }
            return Native::Done(std::ptr::null_mut());
        }
        Native::Done(match kind {
            Kind::Void => api.new_ref(api.none),
            Kind::Int { signed, .. } => api.int(word, signed),
            Kind::Bool => api.new_ref(if word & 0xff != 0 { api.true_ } else { api.false_ }),
            Kind::Float => api.float(f64::from(f32::from_bits(word as u32))),
            Kind::Double => api.float(f64::from_bits(word)),
            Kind::Handle if word == 0 => return Native::NullResult,
            Kind::Handle => (word - 1) as *mut cpy_PyObject,
            _ => unreachable!("call_native takes scalars and handles only"),
        })
    }
}

/// The error of an `HPy` result NULL without an exception (kept out of the fast path's code).
#[cold]
#[inline(never)]
pub fn null_without_exception(entry: &str) -> Error {
    Error::new(Exception::SystemError, format!("{entry}() returned NULL without setting an exception"))
}

/// Why Python cannot call a function of `sig`, if it cannot.
fn refusal(sig: &Signature, takes_context: bool, params: &[Kind], has_family: bool) -> Option<String> {
    if let Some((i, why)) = params.iter().enumerate().find_map(|(i, k)| k.refused().map(|why| (i, why))) {
        let ty = sig.args[i + usize::from(takes_context)].qualified();
        return Some(format!("argument {} ({ty}): {why}", i + 1));
    }
    let handles = params.contains(&Kind::Handle) || sig.ret == CType::HANDLE;
    if handles && !takes_context {
        return Some("it passes HPy handles without an HPyContext * to translate them in".to_owned());
    }
    if (takes_context && !has_family) || params.len() + usize::from(takes_context) > MAX_ARGS {
        return Some("it has no context family to call it in, or too many parameters".to_owned());
    }
    let objects = params.iter().chain([&Kind::of(&sig.ret)]).any(|k| matches!(k, Kind::Object | Kind::Array { .. }));
    if objects && host().is_none() {
        return Some("this interpreter has no C API to pass objects or buffers".to_owned());
    }
    None
}
