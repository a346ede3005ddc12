//! The lookup cache: what `cdict_lookup` answered, for consumers whose handles name
//! objects stably (CPython's universal and trace contexts: a handle is the object's address plus
//! one; CPython's debug contexts: a handle points to HPy's `DebugHandle`, which holds such a
//! universal handle, a layout checked once per debug mode), keyed by (consumer, the object's type,
//! the name's address, the signature's address), so that a repeated lookup costs a few loads and
//! compares instead of attribute lookups and hashing (docs/cdict.md §7). The consumer is its
//! context, or for debug mode (whose contexts rotate through copies) the debug mode's shared data:
//! answers depend on the consumer's family only. 64 cells, direct-mapped by a hash of the key, each
//! under a sequence lock, shared by all threads.
//!
//! An answer is cached only when it is the type's answer for every instance:
//! - the type's instances cannot have a `__cdict__` of their own (`__dictoffset__` 0: no
//!   instance `__dict__`; and `hpybridge.cdict._same_for_instances`: no `__getattr__`, object's
//!   `__getattribute__`, no `__cdict__` descriptor such as a `__slots__` member);
//! - the name and signature live in read-only memory of a loaded object (string literals, never
//!   rewritten; extension modules are never unloaded), so their addresses name their contents;
//! - the type is kept alive from then on (one reference, never released, taken in a universal
//!   context, which debug mode's leak detector does not watch), so its address is never another
//!   type's.
//!
//! The probe reads the type from the object header (the handle minus one is the object; its
//! second word its type), as CPython's universal context does, after checking that layout once per
//! context against `ctx_Type`.
//!
//! Every `cdict_set` bumps [`VERSION`]: an entry of an older version is stale, so any change to any
//! `__cdict__` made through the runtime invalidates every cached answer at once (changes are rare;
//! lookups are not). Lookups take no lock; readers and writers of a cell synchronise through its
//! sequence number, so this holds without the GIL too (free-threaded builds: not supported by HPy
//! 0.9; nothing here relies on the GIL, though the `__cdict__` mappings, Python objects, do).

use crate::crossing::family::{Family, Interpreter, Mode};
use crate::hpy;
use crate::hpy::private::{debug_ctx_info, wrapped_universal};
use crate::hpy::values::close;
use capsules::wire::abi::HPyBridge_CDictSite;
use hpy_sys::{HPy, HPyContext, HPy_NULL};
use parking_lot::Mutex;
use std::collections::HashSet;
use std::ffi::{c_char, c_int, c_void};
use std::sync::atomic::{fence, AtomicU64, AtomicUsize, Ordering};

/// Bumped by every change of a `__cdict__` made through the runtime.
pub static VERSION: AtomicU64 = AtomicU64::new(1);

/// Contexts known to name objects stably (CPython universal and trace): at most these few exist.
static STABLE_CONTEXTS: [AtomicUsize; 4] = [const { AtomicUsize::new(0) }; 4];

/// CPython debug contexts whose debug mode (`debug_mode`) was checked to wrap universal handles as
/// `DebugHandle` does: its 16 rotating copies, with room to spare.
static DEBUG_CONTEXTS: [AtomicUsize; 32] = [const { AtomicUsize::new(0) }; 32];

/// Contexts found not to be served (PyPy's, unknown ones, debug modes that failed the check), so
/// that their lookups skip the checks; a few fixed pointers (PyPy has one context per mode).
static UNSERVED: [AtomicUsize; 8] = [const { AtomicUsize::new(0) }; 8];

/// Debug modes (their shared `HPyDebugInfo`) checked, and what the check found.
static DEBUG_MODES: Mutex<Vec<(usize, bool)>> = Mutex::new(Vec::new());

/// Types kept alive because a cached answer names them.
static KEPT: Mutex<Option<HashSet<usize>>> = Mutex::new(None);

/// Answers given from the cache, and answers stored in it (`lookup_cache_info()`, for tests): counted
/// with a plain load and store, no locked instruction on the lookup's path; concurrent lookups may
/// lose a count, never add one.
static HITS: AtomicU64 = AtomicU64::new(0);
static FILLS: AtomicU64 = AtomicU64::new(0);

fn count(counter: &AtomicU64) {
    counter.store(counter.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
}

const SLOTS: usize = 64;

/// One cached answer, written under a sequence lock: `seq` is odd while a writer fills the slot, and
/// changes with every write, so a reader that sees the same even `seq` before and after reading the
/// fields read one answer whole.
struct Cell {
    seq: AtomicU64,
    ctx: AtomicUsize,
    ty: AtomicUsize,
    name: AtomicUsize,
    signature: AtomicUsize,
    version: AtomicU64,
    code: AtomicUsize,
}

#[derive(Clone, Copy)]
struct Slot {
    ctx: usize,
    ty: usize,
    name: usize,
    signature: usize,
    version: u64,
    code: usize,
}

#[allow(clippy::declare_interior_mutable_const)] // only to initialise `CACHE`
const EMPTY: Cell = Cell {
    seq: AtomicU64::new(0),
    ctx: AtomicUsize::new(0),
    ty: AtomicUsize::new(0),
    name: AtomicUsize::new(0),
    signature: AtomicUsize::new(0),
    version: AtomicU64::new(0),
    code: AtomicUsize::new(0),
};

/// The process's cache, shared by all threads (the sequence locks make it safe without the GIL).
static CACHE: [Cell; SLOTS] = [EMPTY; SLOTS];

impl Cell {
    /// The answer this cell holds for `key`, if it holds one (of `key`'s version).
    fn read(&self, key: &Slot) -> Option<usize> {
        let seq = self.seq.load(Ordering::Acquire);
        let hit = self.ctx.load(Ordering::Relaxed) == key.ctx
            && self.ty.load(Ordering::Relaxed) == key.ty
            && self.name.load(Ordering::Relaxed) == key.name
            && self.signature.load(Ordering::Relaxed) == key.signature
            && self.version.load(Ordering::Relaxed) == key.version;
        let code = self.code.load(Ordering::Relaxed);
        fence(Ordering::Acquire);
        (hit && seq & 1 == 0 && self.seq.load(Ordering::Relaxed) == seq).then_some(code)
    }

    /// Stores `slot`, unless another thread is writing this cell (then the answer is not cached).
    fn write(&self, slot: &Slot) {
        let seq = self.seq.load(Ordering::Relaxed);
        if seq & 1 == 1 || self.seq.compare_exchange(seq, seq + 1, Ordering::Acquire, Ordering::Relaxed).is_err() {
            return;
        }
        fence(Ordering::Release);
        self.ctx.store(slot.ctx, Ordering::Relaxed);
        self.ty.store(slot.ty, Ordering::Relaxed);
        self.name.store(slot.name, Ordering::Relaxed);
        self.signature.store(slot.signature, Ordering::Relaxed);
        self.version.store(slot.version, Ordering::Relaxed);
        self.code.store(slot.code, Ordering::Relaxed);
        self.seq.store(seq + 2, Ordering::Release);
    }
}

/// What a probe found: the answer, or where to put it once the lookup is made.
pub enum Probe {
    Hit(*const c_void),
    /// Not cached; `Some` if the answer may be (the consumer's context names objects stably).
    Miss(Option<Key>),
}

/// Where an answer goes: its key, and the version the lookup started from.
pub struct Key {
    slot: Slot,
    /// The context that keeps the type alive: the consumer's, or the universal context a debug
    /// consumer's wraps.
    keeper: *mut HPyContext,
}

fn index(ty: usize, name: usize, signature: usize) -> usize {
    // Fibonacci hashing: the top bits of the product spread keys that differ anywhere.
    let x = (ty ^ name.rotate_left(21) ^ signature.rotate_left(42)) as u64;
    (x.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - SLOTS.trailing_zeros())) as usize
}

/// Whether `ctx` names objects stably, learnt once per context.
///
/// # Safety
/// `ctx` must be a live context.
pub unsafe fn stable(ctx: *mut HPyContext) -> bool {
    let c = ctx as usize;
    if STABLE_CONTEXTS[0].load(Ordering::Relaxed) == c || STABLE_CONTEXTS.iter().any(|s| s.load(Ordering::Relaxed) == c)
    {
        return true;
    }
    // SAFETY: `ctx` is live (the caller's contract).
    let family = unsafe { Family::of(ctx) };
    let yes =
        matches!(family, Family::Known { mode: Mode::Universal | Mode::Trace, interpreter: Interpreter::CPython }) && {
            // The object header is what `raw_type` reads (not a build with extra header fields):
            // checked on None against the context's own answer.
            // SAFETY: `ctx` is a live CPython universal or trace context, whose handles are objects'
            // addresses plus one; None lives forever; the type handle is closed at once.
            unsafe {
                let none = (*ctx).h_None;
                let t = hpy!(ctx, ctx_Type, none);
                close(ctx, t);
                raw_type(none) == t._i as usize
            }
        };
    if yes {
        for s in &STABLE_CONTEXTS {
            if s.compare_exchange(0, c, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
                break;
            }
        }
    }
    yes
}

/// Where an object's type is, from its address: `ob_type`, after `ob_refcnt` (`stable` checks it).
const TYPE_AT: isize = 8;

/// HPy 0.9's `DebugHandle` (hpy/debug/src/debug_internal.h), which a CPython debug handle points to:
/// a queue node (two pointers and a size), the universal handle it wraps, a `long` generation, then
/// the bit fields `is_closed` (bit 0) and `is_immortal` (bit 1). `debug_mode` checks this layout.
const WRAPPED_AT: usize = 24;
const FLAGS_AT: usize = 40;
const CLOSED: u8 = 1;
const IMMORTAL: u8 = 2;

/// A consumer context the cache serves: the key it caches under, how its handles name objects, and
/// the context that keeps types alive.
#[derive(Clone, Copy)]
struct Consumer {
    key: usize,
    debug: bool,
    keeper: *mut HPyContext,
}

/// How the cache may serve `ctx`: a context that names objects stably (`stable`), or a CPython
/// debug context whose debug mode passed `debug_mode`; None for every other (PyPy's, unknown).
///
/// # Safety
/// `ctx` must be valid for the current call.
unsafe fn consumer(ctx: *mut HPyContext) -> Option<Consumer> {
    let c = ctx as usize;
    let debug = |ctx: *mut HPyContext| {
        // SAFETY: a context in `DEBUG_CONTEXTS` is a CPython debug context that `debug_mode`
        // checked: its `_private` leads to the debug mode's shared data and the universal context.
        unsafe {
            let shared = (*debug_ctx_info(ctx)).info;
            Consumer { key: shared as usize, debug: true, keeper: (*shared).uctx.cast_mut() }
        }
    };
    if STABLE_CONTEXTS[0].load(Ordering::Relaxed) == c || STABLE_CONTEXTS.iter().any(|s| s.load(Ordering::Relaxed) == c)
    {
        return Some(Consumer { key: c, debug: false, keeper: ctx });
    }
    if DEBUG_CONTEXTS.iter().any(|s| s.load(Ordering::Relaxed) == c) {
        return Some(debug(ctx));
    }
    if UNSERVED.iter().any(|s| s.load(Ordering::Relaxed) == c) {
        return None;
    }
    // SAFETY: `ctx` is valid for the current call.
    if unsafe { stable(ctx) } {
        return Some(Consumer { key: c, debug: false, keeper: ctx });
    }
    // SAFETY: as above.
    if !unsafe { debug_mode(ctx) } {
        // CPython's debug contexts are remembered here too: at most the 16 copies of a failed mode,
        // beyond which their lookups check again, and stay uncached.
        for s in &UNSERVED {
            if s.compare_exchange(0, c, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
                break;
            }
        }
        return None;
    }
    for s in &DEBUG_CONTEXTS {
        if s.compare_exchange(0, c, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
            break;
        }
    }
    Some(debug(ctx))
}

/// Whether `ctx` is a CPython debug context whose handles point to a `DebugHandle` wrapping the
/// universal handle (the object's address plus one) at `WRAPPED_AT`, with the flags at `FLAGS_AT`:
/// checked once per debug mode, on two known objects, through an immortal handle (`h_None`, the
/// flags saying immortal) and a handle opened here (not immortal, not closed), against the handles
/// of the universal context it wraps, whose handles must name objects stably.
///
/// # Safety
/// `ctx` must be valid for the current call.
unsafe fn debug_mode(ctx: *mut HPyContext) -> bool {
    // SAFETY: `ctx` is valid for the current call.
    let family = unsafe { Family::of(ctx) };
    if family != (Family::Known { mode: Mode::Debug, interpreter: Interpreter::CPython }) {
        return false;
    }
    // SAFETY: `Family::of` found `ctx` calls itself CPython's debug context and its `_private` carries
    // HPy 0.9's magic numbers (it checked them through `wrapped_universal`).
    let (shared, uctx) = unsafe {
        let Some(uctx) = wrapped_universal(ctx, true) else { return false };
        ((*debug_ctx_info(ctx)).info as usize, uctx.cast_mut())
    };
    if let Some(&(_, found)) = DEBUG_MODES.lock().iter().find(|(s, _)| *s == shared) {
        return found;
    }
    // SAFETY: `uctx` is the live universal context `ctx` wraps (CPython's, `Family::of` checked).
    let found = unsafe { stable(uctx) } && {
        // Reads a debug handle's words; only after its first word checked out, its flags.
        let wraps = |dh: HPy, uh: HPy, flags: u8| {
            // SAFETY: `dh` is a live handle of `ctx`, a debug handle: HPy allocates a `DebugHandle`
            // of at least `FLAGS_AT + 1` bytes for it; the flags are read only if the wrapped word
            // is where this layout says.
            unsafe {
                dh._i & 1 == 0
                    && *((dh._i as usize + WRAPPED_AT) as *const isize) == uh._i
                    && *((dh._i as usize + FLAGS_AT) as *const u8) & (CLOSED | IMMORTAL) == flags
            }
        };
        // SAFETY: `ctx` and `uctx` are live; `h_None` and `h_True` are their handles of None and
        // True; the handle opened here is closed once.
        unsafe {
            let none = wraps((*ctx).h_None, (*uctx).h_None, IMMORTAL);
            let opened = hpy!(ctx, ctx_Dup, (*ctx).h_True);
            let fresh = !opened.is_null() && wraps(opened, (*uctx).h_True, 0);
            close(ctx, opened);
            none && fresh
        }
    };
    let mut modes = DEBUG_MODES.lock();
    if !modes.iter().any(|(s, _)| *s == shared) {
        modes.push((shared, found));
    }
    found
}

/// The handle of `obj`'s type, read from the object header: `ob_type`, after `ob_refcnt`.
///
/// # Safety
/// `obj` must be a handle of a context that names objects stably (`stable`), of a live object.
unsafe fn raw_type(obj: HPy) -> usize {
    let object = obj._i as usize - 1;
    // SAFETY: `object` is a live object's address (the caller's contract), whose second word is
    // its type's address; a type handle is its address plus one.
    unsafe { *((object + TYPE_AT as usize) as *const usize) + 1 }
}

/// Looks `(ctx, type(obj), name, signature)` up in this thread's cache.
///
/// # Safety
/// `ctx` must be valid for the current call and `obj` a live handle in it.
pub unsafe fn probe(ctx: *mut HPyContext, obj: HPy, name: *const c_char, signature: *const c_char) -> Probe {
    // SAFETY: `ctx` is valid for the current call.
    let Some(consumer) = (unsafe { consumer(ctx) }) else { return Probe::Miss(None) };
    let object = if consumer.debug {
        // SAFETY: `obj` is a live handle of a debug context whose layout `debug_mode` checked: it
        // points to its `DebugHandle`. A closed one (a consumer's bug) takes the uncached path, where
        // debug mode reports it.
        unsafe {
            if *((obj._i as usize + FLAGS_AT) as *const u8) & CLOSED != 0 {
                return Probe::Miss(None);
            }
            HPy { _i: *((obj._i as usize + WRAPPED_AT) as *const isize) }
        }
    } else {
        obj
    };
    // SAFETY: `object` is a universal handle of a context that names objects stably (the consumer's,
    // or the one its debug mode wraps): a live object's address plus one, with the object header
    // `stable` checked.
    let ty = unsafe { raw_type(object) };
    let version = VERSION.load(Ordering::Acquire);
    let key = Slot { ctx: consumer.key, ty, name: name as usize, signature: signature as usize, version, code: 0 };
    let found = CACHE[index(ty, key.name, key.signature)].read(&key);
    match found {
        Some(code) => {
            count(&HITS);
            Probe::Hit(code as *const c_void)
        }
        None => Probe::Miss(Some(Key { slot: key, keeper: consumer.keeper })),
    }
}

/// Caches `code` (NULL for "no such entry") as the answer for `key`, if the rules above allow.
///
/// # Safety
/// `ctx` must be valid for the current call, the one `key` was probed with, and `obj` a live handle in it.
pub unsafe fn fill(ctx: *mut HPyContext, obj: HPy, key: Key, code: *const c_void) {
    let slot = Slot { code: code as usize, ..key.slot };
    // SAFETY: the caller's contract; `key.keeper` is the consumer's context or the universal context
    // its debug mode wraps, in which `slot.ty` is the type's handle.
    if !read_only(slot.name) || !read_only(slot.signature) || !unsafe { type_answers(ctx, obj, slot.ty, key.keeper) } {
        return;
    }
    CACHE[index(slot.ty, slot.name, slot.signature)].write(&slot);
    count(&FILLS);
}

/// Whether `obj`'s type, of universal handle `ty` (`raw_type`), answers for all its instances (they
/// cannot have a `__cdict__` of their own: `__dictoffset__` 0); if so, the type is kept alive from
/// then on, by a handle of `keeper`.
///
/// # Safety
/// `ctx` must be valid for the current call and `obj` a live handle in it; `keeper` a context that
/// names objects stably (`ctx`, or the universal context a debug `ctx` wraps).
pub unsafe fn type_answers(ctx: *mut HPyContext, obj: HPy, ty: usize, keeper: *mut HPyContext) -> bool {
    if KEPT.lock().as_ref().is_some_and(|kept| kept.contains(&ty)) {
        return true;
    }
    // SAFETY: `ctx` is valid and `obj` lives in it; handles made here are closed, but for the one
    // of `keeper` that keeps the type alive, which is kept on purpose.
    unsafe {
        let t = hpy!(ctx, ctx_Type, obj);
        if t.is_null() {
            hpy!(ctx, ctx_Err_Clear);
            return false;
        }
        let offset = hpy!(ctx, ctx_GetAttr_s, t, c"__dictoffset__".as_ptr());
        let no_dict = !offset.is_null() && hpy!(ctx, ctx_Long_AsSsize_t, offset) == 0;
        close(ctx, offset);
        hpy!(ctx, ctx_Err_Clear);
        if !no_dict || !same_for_instances(ctx, t) {
            close(ctx, t);
            return false;
        }
        let mut kept = KEPT.lock();
        if kept.get_or_insert_with(HashSet::new).insert(ty) {
            // The type's reference, never released: `keeper`'s handles are objects' addresses plus
            // one, and `ty` that of `obj`'s type, which `t` keeps alive meanwhile.
            hpy!(keeper, ctx_Dup, HPy { _i: ty as isize });
        }
        close(ctx, t);
    }
    true
}

/// `hpybridge.cdict._same_for_instances(t)`: whether attribute lookup on `t`'s instances cannot
/// give one of them a `__cdict__` of its own (a `__getattr__`, a `__slots__` member named
/// `__cdict__`, ...); false if it cannot tell, its error cleared.
///
/// # Safety
/// `ctx` must be valid for the current call and `t` a live handle of a type in it.
unsafe fn same_for_instances(ctx: *mut HPyContext, t: HPy) -> bool {
    // SAFETY: the caller's contract; every handle made here is closed once.
    unsafe {
        let module = hpy!(ctx, ctx_Import_ImportModule, c"hpybridge.cdict".as_ptr());
        let f =
            if module.is_null() { module } else { hpy!(ctx, ctx_GetAttr_s, module, c"_same_for_instances".as_ptr()) };
        close(ctx, module);
        let mut args = [t];
        let tuple = if f.is_null() { f } else { hpy!(ctx, ctx_Tuple_FromArray, args.as_mut_ptr(), 1) };
        let r = if tuple.is_null() { tuple } else { hpy!(ctx, ctx_CallTupleDict, f, tuple, HPy_NULL) };
        close(ctx, tuple);
        close(ctx, f);
        let yes = !r.is_null() && hpy!(ctx, ctx_Is, r, (*ctx).h_True) != 0;
        close(ctx, r);
        hpy!(ctx, ctx_Err_Clear);
        yes
    }
}

/// Fills a consumer's call-site cache (`HPyBridge_CDictSite`, hpybridge.h) with `code`, the answer
/// for `obj` looked up from `version` on, if it holds for every instance of `obj`'s type (as
/// `fill`'s rules, but for the strings: a site is used with one name and signature). The site's
/// context is written last (a site with a NULL context is empty); sites are read and written under
/// the GIL. Never for a debug-mode consumer: the site's inline check reads the object header from
/// the handle itself (hpybridge.h).
///
/// # Safety
/// `ctx` must be valid for the current call, `obj` a live handle in it, and `site` a consumer's
/// site, valid for writes.
pub unsafe fn fill_site(
    ctx: *mut HPyContext,
    obj: HPy,
    site: *mut HPyBridge_CDictSite,
    version: u64,
    code: *const c_void,
) {
    // SAFETY: the caller's contract; a consumer served other than through debug handles names
    // objects stably (`stable`), which makes `raw_type` valid.
    unsafe {
        if site.is_null() || consumer(ctx).is_none_or(|c| c.debug) {
            return;
        }
        let ty = raw_type(obj);
        if !type_answers(ctx, obj, ty, ctx) {
            return;
        }
        let site = &mut *site;
        site.ctx = std::ptr::null_mut();
        site.type_ = (ty - 1) as *const c_void;
        site.code = code.cast_mut();
        site.type_at = TYPE_AT - 1; // from the handle, the object's address plus one
        site.version_word = VERSION.as_ptr().cast_const();
        site.version = version;
        fence(Ordering::Release);
        site.ctx = ctx;
    }
}

/// What `lookup_cache_info()` reports: (hits, fills, the kept types' addresses, the debug modes
/// whose handles the cache reads).
pub fn info() -> (u64, u64, Vec<usize>, usize) {
    let mut kept: Vec<usize> = KEPT.lock().iter().flatten().map(|ty| ty - 1).collect();
    kept.sort_unstable();
    let debug_modes = DEBUG_MODES.lock().iter().filter(|(_, found)| *found).count();
    (HITS.load(Ordering::Relaxed), FILLS.load(Ordering::Relaxed), kept, debug_modes)
}

/// Whether `addr` lies in a read-only loaded segment of an object the dynamic linker knows.
fn read_only(addr: usize) -> bool {
    struct Search {
        addr: usize,
        found: Option<bool>,
    }
    unsafe extern "C" fn visit(info: *mut libc::dl_phdr_info, _size: libc::size_t, data: *mut c_void) -> c_int {
        // SAFETY: `data` is the `Search` passed below; `info` describes one loaded object, whose
        // `dlpi_phnum` program headers are at `dlpi_phdr`.
        unsafe {
            let search = &mut *data.cast::<Search>();
            let info = &*info;
            for i in 0..usize::from(info.dlpi_phnum) {
                let ph = &*info.dlpi_phdr.add(i);
                if ph.p_type != libc::PT_LOAD {
                    continue;
                }
                let start = info.dlpi_addr as usize + ph.p_vaddr as usize;
                if (start..start + ph.p_memsz as usize).contains(&search.addr) {
                    search.found = Some(ph.p_flags & libc::PF_W == 0);
                    return 1;
                }
            }
        }
        0
    }
    let mut search = Search { addr, found: None };
    // SAFETY: `visit` only reads the headers it is given and writes `search`, which outlives the call.
    unsafe { libc::dl_iterate_phdr(Some(visit), (&mut search as *mut Search).cast()) };
    search.found == Some(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    static LITERAL: &[u8] = b"double (HPyContext *, HPy)\0";

    #[test]
    fn literals_are_read_only_and_stack_or_heap_buffers_are_not() {
        assert!(read_only(LITERAL.as_ptr() as usize));
        let on_stack = *b"norm\0";
        assert!(!read_only(on_stack.as_ptr() as usize));
        let on_heap = Box::new(*b"norm\0");
        assert!(!read_only(on_heap.as_ptr() as usize));
        static mut WRITABLE: [u8; 5] = *b"norm\0";
        assert!(!read_only(std::ptr::addr_of!(WRITABLE) as usize));
    }

    #[test]
    fn slots_spread() {
        let a = index(0x7f00_0000_1000, 0x5555_0000_2000, 0x5555_0000_2010);
        let b = index(0x7f00_0000_1400, 0x5555_0000_2000, 0x5555_0000_2010);
        assert!(a < SLOTS && b < SLOTS && a != b);
    }
}
