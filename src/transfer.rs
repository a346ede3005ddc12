//! Moving a handle from one context to another, through the public ABI only.
//!
//! Two ways, picked per pair of families:
//! - `Global`: store the handle in an `HPyGlobal` in the source context, load it in the target,
//!   store NULL again. Cheap, and bounded on CPython, where a global is the object pointer itself.
//! - `Mailbox`: PyPy allocates a new global slot on every `HPyGlobal_Store` (even of NULL), so per
//!   call globals would grow without bound there. Instead each thread stores one global, once: a
//!   one-item list that both contexts load; the handle goes in as item 0 and comes out in the other
//!   context. Unknown families get this too: it assumes nothing of how globals are kept.

use crate::context::{Family, Interpreter};
use crate::hpy;
use hpy_sys::{HPy, HPyContext, HPyGlobal, HPy_NULL};
use std::cell::Cell;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transfer {
    /// The two families share handles: nothing to do.
    Shared,
    Global,
    Mailbox,
}

impl Transfer {
    pub fn between(from: &Family, to: &Family) -> Transfer {
        if from.shares_handles_with(to) {
            Transfer::Shared
        } else if from.interpreter() == Some(Interpreter::CPython) && to.interpreter() == Some(Interpreter::CPython) {
            Transfer::Global
        } else {
            Transfer::Mailbox
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
        match self {
            Transfer::Shared => hpy!(to, ctx_Dup, h),
            Transfer::Global => {
                let mut global = HPyGlobal { _i: 0 };
                hpy!(from, ctx_Global_Store, &mut global, h);
                let moved = hpy!(to, ctx_Global_Load, global);
                hpy!(from, ctx_Global_Store, &mut global, HPy_NULL);
                moved
            }
            Transfer::Mailbox => {
                let Some(mailbox) = thread_mailbox(from) else { return HPy_NULL };
                let list = hpy!(from, ctx_Global_Load, mailbox);
                let stored = !list.is_null() && hpy!(from, ctx_SetItem_i, list, 0, h) == 0;
                crate::hpycall::close(from, list);
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
                crate::hpycall::close(to, list);
                moved
            }
        }
    }
}

thread_local! {
    static MAILBOX: Cell<Option<HPyGlobal>> = const { Cell::new(None) };
}

/// This thread's mailbox (a one-item list held by a global), made on first use.
unsafe fn thread_mailbox(ctx: *mut HPyContext) -> Option<HPyGlobal> {
    if let Some(g) = MAILBOX.with(Cell::get) {
        return Some(g);
    }
    let list = hpy!(ctx, ctx_List_New, 0);
    if list.is_null() {
        return None;
    }
    let none = (*ctx).h_None;
    if hpy!(ctx, ctx_List_Append, list, none) < 0 {
        crate::hpycall::close(ctx, list);
        return None;
    }
    let mut global = HPyGlobal { _i: 0 };
    hpy!(ctx, ctx_Global_Store, &mut global, list);
    crate::hpycall::close(ctx, list);
    MAILBOX.with(|m| m.set(Some(global)));
    Some(global)
}
