//! Trampolines called from many threads at once, made while others run, and nested deeply.

#[macro_use]
mod common;

use common::{addr, as_fn, pass, sig, LIMIT};
use std::ffi::c_void;
use std::sync::atomic::{AtomicU64, Ordering};
use trampolines::{BackendKind, Call, Trampolines};

for_both_backends!(nested_calls, concurrent_calls_and_making);

/// Recursion through trampolines: `pair[depth % 2]` is called for the next level down.
type Recurse = extern "C" fn(*const [*const c_void; 2], i64) -> i64;
const RECURSE: &str = "int64_t (void *, int64_t)";

extern "C" fn recurse(pair: *const [*const c_void; 2], depth: i64) -> i64 {
    if depth == 0 {
        return 0;
    }
    // SAFETY: both entries are trampolines for RECURSE.
    let next: Recurse = unsafe { as_fn((*pair)[depth as usize % 2]) };
    next(pair, depth - 1) + 1
}

/// Passes the call through and adds 1000 to its result.
unsafe fn add_thousand(call: &mut dyn Call, target: *const c_void) {
    // SAFETY: the handler's data is a function of this trampoline's signature.
    unsafe { call.invoke(target) };
    call.set_ret(call.ret() + 1000);
}

const DEPTH: i64 = 64;

/// Calls `pair[0]` with `pair` and DEPTH: odd levels go through `pair[1]`, even ones (and the
/// first call) through `pair[0]`.
fn run(pair: [*const c_void; 2]) -> i64 {
    // SAFETY: the caller made both for RECURSE.
    let top: Recurse = unsafe { as_fn(pair[0]) };
    top(&pair, DEPTH)
}

fn nested_calls(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let s = sig(RECURSE);
    let target = addr(recurse as Recurse);
    let counter = AtomicU64::new(0);
    let intercept = t.intercept(&s, add_thousand, target).expect("trampoline");
    let count = t.count(&s, target, &counter).expect("stub");
    assert_eq!(run([intercept, intercept]), DEPTH + 1000 * (DEPTH + 1));
    assert_eq!(run([intercept, count]), DEPTH + 1000 * (DEPTH / 2 + 1));
    assert_eq!(counter.load(Ordering::Relaxed), DEPTH as u64 / 2);
}

/// Dynasm trampolines calling libffi ones calling dynasm ones, and so on.
#[cfg(target_arch = "x86_64")]
#[test]
fn nested_across_backends() {
    let dynasm = Trampolines::new(BackendKind::Dynasm, LIMIT);
    let libffi = Trampolines::new(BackendKind::Libffi, LIMIT);
    let (s, target) = (sig(RECURSE), addr(recurse as Recurse));
    let pair = [
        dynasm.intercept(&s, add_thousand, target).expect("trampoline"),
        libffi.intercept(&s, add_thousand, target).expect("trampoline"),
    ];
    assert_eq!(run(pair), DEPTH + 1000 * (DEPTH + 1));
}

extern "C" fn mul_add(a: i64, x: f64, b: i32) -> f64 {
    a as f64 * x + b as f64
}

type MulAdd = extern "C" fn(i64, f64, i32) -> f64;

/// Adds 1 to the first argument.
unsafe fn bump_first(call: &mut dyn Call, target: *const c_void) {
    call.set_arg(0, call.arg(0) + 1);
    // SAFETY: the handler's data is a function of this trampoline's signature.
    unsafe { call.invoke(target) };
}

fn concurrent_calls_and_making(kind: BackendKind) {
    const THREADS: i64 = 8;
    const CALLS: i64 = 2_000;
    let t = Trampolines::new(kind, 4 << 20);
    let s = sig("double (int64_t, double, int32_t)");
    let target = addr(mul_add as MulAdd);
    // SAFETY: made for this signature.
    let shared: [MulAdd; 2] = [pass as trampolines::Handler, bump_first]
        .map(|h| unsafe { as_fn(t.intercept(&s, h, target).expect("trampoline")) });
    std::thread::scope(|scope| {
        for n in 0..THREADS {
            let t = &t;
            let s = &s;
            scope.spawn(move || {
                for i in 0..CALLS {
                    let x = n as f64 + 0.5;
                    assert_eq!(shared[0](i, x, -3), i as f64 * x - 3.0);
                    assert_eq!(shared[1](i, x, 7), (i + 1) as f64 * x + 7.0);
                    if i % 200 == 0 {
                        // Made while other threads run code in the same chunk.
                        // SAFETY: made for this signature.
                        let own: MulAdd =
                            unsafe { as_fn(t.intercept(s, bump_first, addr(mul_add as MulAdd)).expect("trampoline")) };
                        assert_eq!(own(i, 2.0, n as i32), (i + 1) as f64 * 2.0 + n as f64);
                    }
                }
            });
        }
    });
}
