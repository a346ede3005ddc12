//! Moving a handle from one context to another.
//!
//! Picked per pair of families:
//! - `Shared`: the two families share handles (universal and trace mode): nothing to do.
//! - `PlainToDebug` / `DebugToPlain`, CPython: a universal (or trace) handle is the object's address
//!   plus one (hpy.universal's representation, checked at run time by `plain_handles_are_objects`),
//!   and debug contexts have `ctx_FromPyObject` / `ctx_AsPyObject`, so a handle crosses with one
//!   call of the debug context.
//! - `PyPyPlainToDebug` / `PyPyDebugToPlain`, PyPy: a PyPy debug handle wraps a handle of PyPy's
//!   universal handle table, which universal and trace contexts use. PyPy exports the functions its
//!   own debug mode is built on: `pypy_hpy_debug_unwrap_handle` (a debug handle's universal handle),
//!   `pypy_hpy_debug_open_handle` (a new debug handle owning a universal handle) and
//!   `pypy_hpy_debug_close_handle` (closes the debug handle only). Found with `dlsym` and checked
//!   once at run time (`pypy_debug_handles`), they move a handle with one debug-handle operation
//!   at most. That matters: PyPy 7.3.19 builds debug mode's C code with its assertions on, so every
//!   debug handle opened or closed walks debug mode's queues of open and of recently closed handles
//!   (up to 1,024 of them), microseconds per operation (docs/trampolines.md).
//! - `Mailbox`, elsewhere (unknown families, or if those checks fail): each thread stores one
//!   `HPyGlobal`, once: a one-item list that both contexts load; the handle goes in as item 0 and
//!   comes out in the other context. Per-call globals would not do: PyPy allocates a new global slot
//!   on every `HPyGlobal_Store`, even of NULL, and never frees it.

use crate::crossing::family::{Family, Interpreter, Mode};
use crate::hpy;
use crate::hpy::values::close;
use hpy_sys::{cpy_PyObject, HPy, HPyContext, HPyGlobal, HPy_NULL};
use std::cell::Cell;
use std::sync::OnceLock;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transfer {
    Shared,
    PlainToDebug,
    DebugToPlain,
    PyPyPlainToDebug,
    PyPyDebugToPlain,
    Mailbox,
}

impl Transfer {
    /// How to move handles from `from` (whose context `from_ctx` is) to `to` (`to_ctx`). The checks
    /// behind the cheaper ways run once, on the first pair of contexts that needs them.
    ///
    /// # Safety
    /// Each context must be live, and valid for calls unless it is a CPython debug context (whose
    /// home context is not: only the other side's is used then).
    pub unsafe fn between(from: &Family, from_ctx: *mut HPyContext, to: &Family, to_ctx: *mut HPyContext) -> Transfer {
        if from.shares_handles_with(to) {
            return Transfer::Shared;
        }
        let interpreter = match (from.interpreter(), to.interpreter()) {
            (Some(i), Some(j)) if i == j => i,
            _ => return Transfer::Mailbox,
        };
        let debug = |f: &Family| f.mode() == Some(Mode::Debug);
        let into_debug = match (debug(from), debug(to)) {
            (false, true) => true,
            (true, false) => false,
            _ => return Transfer::Mailbox,
        };
        let (debug_ctx, plain_ctx) = if into_debug { (to_ctx, from_ctx) } else { (from_ctx, to_ctx) };
        match interpreter {
            // SAFETY: `plain_ctx` is a CPython universal or trace context, valid for calls.
            Interpreter::CPython if !plain_ctx.is_null() && unsafe { plain_handles_are_objects(plain_ctx) } => {
                if into_debug {
                    Transfer::PlainToDebug
                } else {
                    Transfer::DebugToPlain
                }
            }
            // SAFETY: both are PyPy's contexts, valid for calls (PyPy's debug context is one pointer,
            // valid whenever it is not marked invalid by a call-out, which this is not made under).
            Interpreter::PyPy if unsafe { pypy_debug_handles(debug_ctx, plain_ctx) }.is_some() => {
                if into_debug {
                    Transfer::PyPyPlainToDebug
                } else {
                    Transfer::PyPyDebugToPlain
                }
            }
            _ => Transfer::Mailbox,
        }
    }

    /// A new handle in `to` for the object `h` refers to in `from` (`h` stays open), or `HPy_NULL`
    /// with an exception set.
    ///
    /// # Safety
    /// `from` and `to` must both be valid for the current call, and `h` a live handle of `from`.
    pub unsafe fn moved(self, from: *mut HPyContext, to: *mut HPyContext, h: HPy) -> HPy {
        if h.is_null() {
            return HPy_NULL;
        }
        // SAFETY: `from` and `to` are valid for the current call and `h` lives in `from` (the
        // caller's contract); PlainToDebug and DebugToPlain are only chosen between CPython's
        // contexts once `plain_handles_are_objects` held, the PyPy ones once PyPy's functions
        // passed `pypy_debug_handles_work`.
        unsafe {
            match self {
                Transfer::Shared => hpy!(to, ctx_Dup, h),
                Transfer::PlainToDebug => hpy!(to, ctx_FromPyObject, (h._i - 1) as *mut cpy_PyObject),
                Transfer::DebugToPlain => {
                    // A new reference, which the plain handle then owns.
                    let obj = hpy!(from, ctx_AsPyObject, h);
                    if obj.is_null() {
                        HPy_NULL
                    } else {
                        HPy { _i: obj as isize + 1 }
                    }
                }
                Transfer::PyPyPlainToDebug => match PYPY_DEBUG.get() {
                    Some(Some(pypy)) => {
                        // The debug handle owns the new universal handle: closing it closes both.
                        let own = hpy!(from, ctx_Dup, h);
                        if own.is_null() {
                            return HPy_NULL;
                        }
                        let moved = HPy { _i: (pypy.open)(to, own._i) };
                        if moved.is_null() {
                            close(from, own); // (out of memory: an exception is set)
                        }
                        moved
                    }
                    _ => mailbox_move(from, to, h),
                },
                Transfer::PyPyDebugToPlain => match PYPY_DEBUG.get() {
                    Some(Some(pypy)) => hpy!(to, ctx_Dup, HPy { _i: (pypy.unwrap)(from, h._i) }),
                    _ => mailbox_move(from, to, h),
                },
                Transfer::Mailbox => mailbox_move(from, to, h),
            }
        }
    }

    /// Like `moved`, but takes `h` over: it is closed in every case. Out of PyPy's debug mode the
    /// universal handle that `h` wraps becomes the result, and only the debug handle is closed.
    ///
    /// # Safety
    /// As for `moved`; `h` must be owned by the caller, who must not use it afterwards.
    pub unsafe fn consumed(self, from: *mut HPyContext, to: *mut HPyContext, h: HPy) -> HPy {
        // `self` first: PYPY_DEBUG is only looked at on PyPy's path (this runs on every handle result).
        if self == Transfer::PyPyDebugToPlain && !h.is_null() {
            if let Some(Some(pypy)) = PYPY_DEBUG.get() {
                // SAFETY: `h` is a live debug handle of `from`, owned by the caller: its universal
                // handle is taken over before the debug handle alone is closed.
                unsafe {
                    let inner = (pypy.unwrap)(from, h._i);
                    (pypy.close)(from, h._i);
                    return HPy { _i: inner };
                }
            }
        }
        // SAFETY: the caller's contract; `h` is closed once, after it was moved.
        unsafe {
            let moved = self.moved(from, to, h);
            close(from, h);
            moved
        }
    }
}

/// PyPy's own functions for its debug handles (libpypy exports them for its debug mode).
struct PyPyDebugHandles {
    /// `pypy_hpy_debug_unwrap_handle(dctx, dh)`: the universal handle `dh` wraps (borrowed).
    unwrap: unsafe extern "C" fn(*mut HPyContext, isize) -> isize,
    /// `pypy_hpy_debug_open_handle(dctx, uh)`: a new debug handle that owns `uh`.
    open: unsafe extern "C" fn(*mut HPyContext, isize) -> isize,
    /// `pypy_hpy_debug_close_handle(dctx, dh)`: closes `dh` but not the universal handle it wraps.
    close: unsafe extern "C" fn(*mut HPyContext, isize),
}

static PYPY_DEBUG: OnceLock<Option<PyPyDebugHandles>> = OnceLock::new();

/// PyPy's debug-handle functions, if this process has them and they do what we rely on; found and
/// checked once, on PyPy's debug context `debug` and a universal or trace context `plain`.
///
/// # Safety
/// Both contexts must be PyPy's, live and valid for calls.
unsafe fn pypy_debug_handles(debug: *mut HPyContext, plain: *mut HPyContext) -> Option<&'static PyPyDebugHandles> {
    PYPY_DEBUG
        .get_or_init(|| {
            // SAFETY: dlsym only reads the dynamic linker's tables.
            let find = |name: &std::ffi::CStr| unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
            let unwrap = find(c"pypy_hpy_debug_unwrap_handle");
            let open = find(c"pypy_hpy_debug_open_handle");
            let close = find(c"pypy_hpy_debug_close_handle");
            if unwrap.is_null() || open.is_null() || close.is_null() {
                return None;
            }
            // Handles pass as their integers (`HPy_ssize_t`).
            type Map = unsafe extern "C" fn(*mut HPyContext, isize) -> isize;
            type Close = unsafe extern "C" fn(*mut HPyContext, isize);
            // SAFETY: these are libpypy's functions of those C signatures (HPy's debug-mode sources,
            // which PyPy builds, declare them so); `pypy_debug_handles_work` checks what they do
            // before anything relies on them.
            let pypy = unsafe {
                PyPyDebugHandles {
                    unwrap: std::mem::transmute::<*mut libc::c_void, Map>(unwrap),
                    open: std::mem::transmute::<*mut libc::c_void, Map>(open),
                    close: std::mem::transmute::<*mut libc::c_void, Close>(close),
                }
            };
            // SAFETY: both contexts are PyPy's, valid for calls (the caller's contract).
            unsafe { pypy_debug_handles_work(&pypy, debug, plain) }.then_some(pypy)
        })
        .as_ref()
}

/// Whether `pypy`'s functions map between `debug`'s handles and `plain`'s: `None` unwraps to
/// `plain`'s `None`; a list's handle opened as a debug handle unwraps to itself and reaches the same
/// list; closing that debug handle leaves the handle it wrapped open.
///
/// # Safety
/// As `pypy_debug_handles`.
unsafe fn pypy_debug_handles_work(pypy: &PyPyDebugHandles, debug: *mut HPyContext, plain: *mut HPyContext) -> bool {
    // SAFETY: both contexts are valid for calls; every handle made here is closed once.
    unsafe {
        if (pypy.unwrap)(debug, (*debug).h_None._i) != (*plain).h_None._i {
            return false;
        }
        let list = hpy!(plain, ctx_List_New, 0);
        if list.is_null() {
            hpy!(plain, ctx_Err_Clear);
            return false;
        }
        let own = hpy!(plain, ctx_Dup, list);
        let wrapped = HPy { _i: (pypy.open)(debug, own._i) };
        let mut ok = false;
        if wrapped.is_null() {
            close(plain, own);
        } else {
            ok = (pypy.unwrap)(debug, wrapped._i) == own._i
                && hpy!(debug, ctx_List_Append, wrapped, (*debug).h_True) == 0
                && hpy!(plain, ctx_Length, list) == 1;
            (pypy.close)(debug, wrapped._i);
            ok = ok && hpy!(plain, ctx_Length, own) == 1;
            close(plain, own);
        }
        close(plain, list);
        if !ok && hpy!(plain, ctx_Err_Occurred) != 0 {
            hpy!(plain, ctx_Err_Clear);
        }
        ok
    }
}

/// Whether this CPython's universal handles are object addresses plus one, checked once on `None`.
///
/// # Safety
/// `plain` must be a CPython universal or trace context, valid for the current call.
pub(crate) unsafe fn plain_handles_are_objects(plain: *mut HPyContext) -> bool {
    static CHECKED: OnceLock<bool> = OnceLock::new();
    // SAFETY: `plain` is valid for the current call; `h_None` is a borrowed handle of it, and the
    // reference `ctx_AsPyObject` returns is owned here.
    *CHECKED.get_or_init(|| unsafe {
        let none = (*plain).h_None;
        let obj = hpy!(plain, ctx_AsPyObject, none);
        let ok = !obj.is_null() && obj as isize + 1 == none._i;
        if ok {
            close(plain, HPy { _i: obj as isize + 1 }); // the reference AsPyObject gave
        }
        // (If not, one reference to None is left over: harmless, and the mailbox is used.)
        ok
    })
}

thread_local! {
    static MAILBOX: Cell<Option<HPyGlobal>> = const { Cell::new(None) };
}

/// Moves `h` through this thread's mailbox (see the module docs).
///
/// # Safety
/// As `Transfer::moved`.
unsafe fn mailbox_move(from: *mut HPyContext, to: *mut HPyContext, h: HPy) -> HPy {
    // SAFETY: `from` and `to` are valid for the current call and `h` lives in `from`; the mailbox
    // is a global both contexts can load; every handle used here is closed once.
    unsafe {
        let Some(mailbox) = thread_mailbox(from) else { return HPy_NULL };
        let list = hpy!(from, ctx_Global_Load, mailbox);
        let stored = !list.is_null() && hpy!(from, ctx_SetItem_i, list, 0, h) == 0;
        close(from, list);
        if !stored {
            return HPy_NULL;
        }
        let list = hpy!(to, ctx_Global_Load, mailbox);
        if list.is_null() {
            return HPy_NULL;
        }
        let moved = hpy!(to, ctx_GetItem_i, list, 0);
        // Empty the box at once: it must not keep the object alive.
        let none = (*to).h_None;
        hpy!(to, ctx_SetItem_i, list, 0, none);
        close(to, list);
        moved
    }
}

/// This thread's mailbox (a one-item list held by a global), made on first use.
///
/// # Safety
/// `ctx` must be valid for the current call.
unsafe fn thread_mailbox(ctx: *mut HPyContext) -> Option<HPyGlobal> {
    if let Some(g) = MAILBOX.with(Cell::get) {
        return Some(g);
    }
    // SAFETY: `ctx` is valid for the current call; `list` is closed once (the global keeps its own
    // reference), and `h_None` is a borrowed handle of `ctx`.
    unsafe {
        let list = hpy!(ctx, ctx_List_New, 0);
        if list.is_null() {
            return None;
        }
        let none = (*ctx).h_None;
        if hpy!(ctx, ctx_List_Append, list, none) < 0 {
            close(ctx, list);
            return None;
        }
        let mut global = HPyGlobal { _i: 0 };
        hpy!(ctx, ctx_Global_Store, &mut global, list);
        close(ctx, list);
        MAILBOX.with(|m| m.set(Some(global)));
        Some(global)
    }
}
