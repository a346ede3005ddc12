//! `bind_last`: the stub's caller passes the target's arguments but its last ones, which the stub
//! fills in with fixed words (a Cython `cpdef`'s `__pyx_skip_dispatch`, a `LowLevelCallable`'s
//! user_data). On both backends, on dynasm's few-instruction path and on the generic one (a bound
//! word on the stack); what is refused; and how few instructions the fast stub is.

#[macro_use]
mod common;

#[cfg(target_arch = "x86_64")]
use common::stub_instructions;
use common::{addr, as_fn, sig, LIMIT};
use trampolines::{BackendKind, Error, Trampolines};

for_both_backends!(skip_dispatch, user_data, after_doubles, from_the_stack, nothing_bound, refused);

extern "C" fn half(x: f64, skip_dispatch: i32) -> f64 {
    assert_eq!(skip_dispatch, 0, "the bound word");
    x / 2.0
}

fn skip_dispatch(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let code = t.bind_last(
        &sig("double (double, int __pyx_skip_dispatch)"),
        addr(half as extern "C" fn(f64, i32) -> f64),
        &[0],
    );
    // SAFETY: made for "double (double)".
    let f: extern "C" fn(f64) -> f64 = unsafe { as_fn(code.expect("stub")) };
    assert_eq!(f(5.0), 2.5);
}

extern "C" fn scaled(x: f64, data: *const f64) -> f64 {
    // SAFETY: the tests bind a pointer to a live f64.
    x * unsafe { *data }
}

fn user_data(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let factor = Box::new(4.0f64);
    let data: *const f64 = &*factor;
    let target = addr(scaled as extern "C" fn(f64, *const f64) -> f64);
    let code = t.bind_last(&sig("double (double, void *)"), target, &[data as u64]).expect("stub");
    // SAFETY: made for "double (double)"; `factor` outlives the calls.
    let f: extern "C" fn(f64) -> f64 = unsafe { as_fn(code) };
    assert_eq!(f(2.5), 10.0);
}

extern "C" fn mixed(a: i64, x: f64, b: i8, y: f64, c: u64, d: i32) -> f64 {
    a as f64 + x + f64::from(b) + y + c as f64 * 1000.0 + f64::from(d) * 100000.0
}

/// Bound words after floating-point and narrow integer arguments, in their own registers.
fn after_doubles(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let target = addr(mixed as extern "C" fn(i64, f64, i8, f64, u64, i32) -> f64);
    let code = t.bind_last(&sig("double (long, double, int8_t, double, uint64_t, int)"), target, &[7, 3]);
    // SAFETY: made for "double (long, double, int8_t, double)".
    let f: extern "C" fn(i64, f64, i8, f64) -> f64 = unsafe { as_fn(code.expect("stub")) };
    assert_eq!(f(1, 0.5, -2, 0.25,), 1.0 + 0.5 - 2.0 + 0.25 + 7000.0 + 300000.0);
}

extern "C" fn seven(a: u64, b: u64, c: u64, d: u64, e: u64, g: u64, h: u64) -> u64 {
    a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * g + 7 * h
}

/// Seven integer-class parameters, the last two bound: one of them goes on the stack.
fn from_the_stack(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let target = addr(seven as extern "C" fn(u64, u64, u64, u64, u64, u64, u64) -> u64);
    let code = t.bind_last(&sig("long (long, long, long, long, long, long, long)"), target, &[10, 100]);
    // SAFETY: made for "long (long, long, long, long, long)".
    let f: extern "C" fn(u64, u64, u64, u64, u64) -> u64 = unsafe { as_fn(code.expect("stub")) };
    assert_eq!(f(1, 1, 1, 1, 1), 1 + 2 + 3 + 4 + 5 + 60 + 700);
}

fn nothing_bound(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let target = addr(half as extern "C" fn(f64, i32) -> f64);
    let code = t.bind_last(&sig("double (double, int)"), target, &[]).expect("stub");
    // SAFETY: made for "double (double, int)".
    let f: extern "C" fn(f64, i32) -> f64 = unsafe { as_fn(code) };
    assert_eq!(f(3.0, 0), 1.5);
}

fn refused(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let target = addr(half as extern "C" fn(f64, i32) -> f64);
    let e = t.bind_last(&sig("double (int, double)"), target, &[0]).unwrap_err();
    assert!(
        matches!(e, Error::Unsupported { ref reason, .. } if reason.contains("parameter 1 is bound but is no integer")),
        "{e}"
    );
    let e = t.bind_last(&sig("double (double)"), target, &[0, 0]).unwrap_err();
    assert!(e.to_string().contains("2 bound words for 1 parameters"), "{e}");
}

#[cfg(target_arch = "x86_64")]
#[test]
fn dynasm_stubs_are_short() {
    let t = Trampolines::new(BackendKind::Dynasm, LIMIT);
    let code = t.bind_last(&sig("double (double, int)"), addr(half as extern "C" fn(f64, i32) -> f64), &[0]);
    // mov rdi, 0; jmp [rip + target]
    assert_eq!(stub_instructions(code.expect("stub")).len(), 2);
}
