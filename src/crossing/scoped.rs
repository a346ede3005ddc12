//! Thread-local state set for the extent of a call.

use std::cell::Cell;
use std::thread::LocalKey;

/// Sets a thread-local to `value` until dropped, then back to what it held: also when a panic
/// unwinds (`translate` catches it), so later calls never see a stale context. Inlined: it runs
/// on every translating call.
pub struct Scoped<T: Copy + 'static> {
    key: &'static LocalKey<Cell<T>>,
    pub outer: T,
}

impl<T: Copy + 'static> Scoped<T> {
    #[inline]
    pub fn set(key: &'static LocalKey<Cell<T>>, value: T) -> Self {
        Scoped { key, outer: key.replace(value) }
    }
}

impl<T: Copy + 'static> Drop for Scoped<T> {
    #[inline]
    fn drop(&mut self) {
        self.key.set(self.outer);
    }
}
