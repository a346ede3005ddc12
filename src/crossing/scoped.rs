//! Thread-local state set for the extent of a call.

use std::cell::Cell;

/// Sets a cell (a thread-local's) to `value` until dropped, then back to what it held: also when a
/// panic unwinds (callers catch it), so later calls never see a stale context. Inlined: it runs on
/// every translating call into CPython's debug mode.
pub struct Scoped<'a, T: Copy> {
    cell: &'a Cell<T>,
    pub outer: T,
}

impl<'a, T: Copy> Scoped<'a, T> {
    #[inline]
    pub fn set(cell: &'a Cell<T>, value: T) -> Self {
        Scoped { cell, outer: cell.replace(value) }
    }
}

impl<T: Copy> Drop for Scoped<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.cell.set(self.outer);
    }
}
