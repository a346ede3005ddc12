//! Moving a handle from one context to another.
//!
//! Picked per pair of families:
//! - `Shared`: the two families share handles (universal and trace mode): nothing to do.
//! - `PlainToDebug` / `DebugToPlain`, CPython: a universal (or trace) handle is the object's address
//!   plus one (hpy.universal's representation, checked at run time by `plain_handles_are_objects`),
//!   and debug contexts have `ctx_FromPyObject` / `ctx_AsPyObject`, so a handle crosses with one
//!   call of the debug context.
//! - `Mailbox`, elsewhere (PyPy, unknown families, or if that check fails): each thread stores one
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
    Mailbox,
}

impl Transfer {
    /// How to move handles from `from` to `to`; `plain` is a live universal or trace context of
    /// CPython if either side is one (for the representation check), else null.
    ///
    /// # Safety
    /// `plain`, if not null, must be valid for the current call.
    pub unsafe fn between(from: &Family, to: &Family, plain: *mut HPyContext) -> Transfer {
        if from.shares_handles_with(to) {
            return Transfer::Shared;
        }
        let cpython = |f: &Family| f.interpreter() == Some(Interpreter::CPython);
        let debug = |f: &Family| f.mode() == Some(Mode::Debug);
        // SAFETY: `plain` is not null, so valid for the current call (the caller's contract).
        if cpython(from) && cpython(to) && !plain.is_null() && unsafe { plain_handles_are_objects(plain) } {
            match (debug(from), debug(to)) {
                (false, true) => return Transfer::PlainToDebug,
                (true, false) => return Transfer::DebugToPlain,
                _ => {}
            }
        }
        Transfer::Mailbox
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
        // contexts once `plain_handles_are_objects` held.
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
                Transfer::Mailbox => mailbox_move(from, to, h),
            }
        }
    }
}

/// Whether this CPython's universal handles are object addresses plus one, checked once on `None`.
///
/// # Safety
/// `plain` must be a CPython universal or trace context, valid for the current call.
unsafe fn plain_handles_are_objects(plain: *mut HPyContext) -> bool {
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
