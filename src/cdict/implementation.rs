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
use crate::hpy::error::{Error, Exception, Result};
use crate::hpy::host::host;
use crate::hpy::values::close;
use capsules::signature::{CType, Signature};
use hpy_sys::{cpy_PyObject, HPy, HPyContext};
use std::ffi::c_void;
use std::mem::MaybeUninit;
use std::sync::OnceLock;
use trampolines::{Caller, MAX_ARGS};

/// The implementation is a CPython-API stub (`PyObject *` instead of `HPy`, no context).
pub const FLAG_CAPI: u32 = 1;
/// The implementation may be called without the GIL. Reserved: nothing sets it yet.
pub const FLAG_NOGIL: u32 = 2;

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
    ret: Kind,
    takes_context: bool,
    /// Why Python cannot call it, if it cannot.
    pub refused: Option<String>,
    caller: Caller<'static>,
    /// How calls cross from the runtime's family to the provider's and back, found on the first
    /// call (it needs a valid runtime context).
    crossing: OnceLock<Crossing>,
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
        let takes_context = signature.takes_context();
        let visible = &signature.args[usize::from(takes_context)..];
        let params: Box<[Kind]> = visible.iter().map(Kind::of).collect();
        let refused = refusal(signature, takes_context, &params, family.is_some());
        let caller = trampolines()?.caller(signature).map_err(|e| {
            Error::new(Exception::RuntimeError, format!("cannot prepare calls of {entry} \"{signature}\": {e}"))
        })?;
        Ok(Implementation {
            entry,
            signature: signature.clone(),
            function,
            provider: provider.to_owned(),
            flags: if family.is_none() { FLAG_CAPI } else { 0 },
            family,
            home,
            params,
            ret: Kind::of(&signature.ret),
            takes_context,
            refused,
            caller,
            crossing: OnceLock::new(),
        })
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
            // SAFETY: `ctx` is valid now; `home` is the provider's home context, valid for calls
            // unless it is a CPython debug context (which `between` does not use).
            let crossing = *self.crossing.get_or_init(|| unsafe {
                let runtime = RUNTIME_FAMILY.get_or_init(|| Family::of(ctx));
                let provider = self.family.as_ref().expect("implementations taking a context have a family");
                Crossing {
                    to_provider: Transfer::between(runtime, ctx, provider, self.home),
                    to_runtime: Transfer::between(provider, self.home, runtime, ctx),
                    runtime_debug: runtime.mode() == Some(Mode::Debug),
                }
            });
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
        let Crossing { to_provider, to_runtime, runtime_debug } = crossing;
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
