//! `Trampolines::caller`: Rust calling C functions of a signature known only at run time, with the
//! arguments and the result as words, through each backend's per-signature machinery.

#[macro_use]
mod common;

use common::{addr, sig, LIMIT};
use std::ffi::c_long;
use trampolines::{BackendKind, Error, Trampolines};

for_both_backends!(
    doubles,
    floats_ints_and_narrow_integers,
    handles_and_pointers,
    void_result,
    stack_arguments,
    one_caller_many_targets_and_threads,
    unsupported_signatures,
);

extern "C" fn hypot3(x: f64, y: f64, z: f64) -> f64 {
    (x * x + y * y + z * z).sqrt()
}

fn doubles(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let c = t.caller(&sig("double (double, double, double)")).expect("supported");
    let args = [2.0f64.to_bits(), 3.0f64.to_bits(), 6.0f64.to_bits()];
    // SAFETY: `hypot3` has that signature.
    let r = unsafe { c.call(addr(hypot3 as extern "C" fn(f64, f64, f64) -> f64), &args) };
    assert_eq!(f64::from_bits(r), 7.0);
}

extern "C" fn mixed(a: i8, b: f32, c: u16, d: i32, e: f64) -> i16 {
    (a as f64 + b as f64 + c as f64 + d as f64 + e) as i16
}

fn floats_ints_and_narrow_integers(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let c = t.caller(&sig("short (signed char, float, unsigned short, int, double)")).expect("supported");
    let args = [(-3i64) as u64, 1.5f32.to_bits().into(), 40000, (-70000i64) as u64, 0.5f64.to_bits()];
    // SAFETY: `mixed` has that signature.
    let r = unsafe { c.call(addr(mixed as extern "C" fn(i8, f32, u16, i32, f64) -> i16), &args) };
    // -3 + 1.5 + 40000 - 70000 + 0.5 = -30001, a negative short: its word is sign-extended.
    assert_eq!(r as i64, -30001);
}

#[repr(C)]
#[derive(Clone, Copy)]
struct Handle {
    i: isize,
}

extern "C" fn pick(ctx: *const u8, a: Handle, b: Handle, second: i32) -> Handle {
    let _ = ctx;
    if second != 0 {
        b
    } else {
        a
    }
}

fn handles_and_pointers(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let c = t.caller(&sig("HPy (HPyContext *, HPy, HPy, int)")).expect("supported");
    let f = addr(pick as extern "C" fn(*const u8, Handle, Handle, i32) -> Handle);
    // SAFETY: `pick` has that signature.
    unsafe {
        assert_eq!(c.call(f, &[0x1000, 11, 22, 0]), 11);
        assert_eq!(c.call(f, &[0x1000, 11, 22, 1]), 22);
    }
}

static mut LAST: c_long = 0;

extern "C" fn remember(v: c_long) {
    // SAFETY: only this test's single thread writes it.
    unsafe { LAST = v };
}

fn void_result(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let c = t.caller(&sig("void (long)")).expect("supported");
    // SAFETY: `remember` has that signature.
    let r = unsafe { c.call(addr(remember as extern "C" fn(c_long)), &[(-5i64) as u64]) };
    assert_eq!(r, 0);
    // SAFETY: written above on this thread.
    assert_eq!(unsafe { LAST }, -5);
}

type Twelve = extern "C" fn(i64, i64, i64, i64, i64, i64, i64, i64, f64, f64, f64, f64) -> f64;

extern "C" fn twelve(
    a: i64,
    b: i64,
    c: i64,
    d: i64,
    e: i64,
    f: i64,
    g: i64,
    h: i64,
    x: f64,
    y: f64,
    z: f64,
    w: f64,
) -> f64 {
    // Weighted, so that any argument in the wrong place changes the result.
    let ints = [a, b, c, d, e, f, g, h].iter().enumerate().map(|(i, v)| (i as i64 + 1) * v).sum::<i64>();
    ints as f64 + 100.0 * x + 1000.0 * y + 10000.0 * z + 100000.0 * w
}

fn stack_arguments(kind: BackendKind) {
    // Eight integers: two of them on the stack.
    let t = Trampolines::new(kind, LIMIT);
    let c = t
        .caller(&sig("double (long, long, long, long, long, long, long, long, double, double, double, double)"))
        .expect("supported");
    let mut args: Vec<u64> = (1..=8).map(|v: u64| v * 3).collect();
    args.extend([0.5f64, 0.25, 0.125, 2.0].map(f64::to_bits));
    // SAFETY: `twelve` has that signature.
    let r = unsafe { c.call(addr(twelve as Twelve), &args) };
    let expected = twelve(3, 6, 9, 12, 15, 18, 21, 24, 0.5, 0.25, 0.125, 2.0);
    assert_eq!(f64::from_bits(r), expected);
}

extern "C" fn add(a: c_long, b: c_long) -> c_long {
    a + b
}

extern "C" fn sub(a: c_long, b: c_long) -> c_long {
    a - b
}

fn one_caller_many_targets_and_threads(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let c = t.caller(&sig("long (long, long)")).expect("supported");
    // Addresses as integers: raw pointers are not Send.
    let fa = addr(add as extern "C" fn(c_long, c_long) -> c_long) as usize;
    let fs = addr(sub as extern "C" fn(c_long, c_long) -> c_long) as usize;
    std::thread::scope(|s| {
        for k in 0..4u64 {
            let c = &c;
            s.spawn(move || {
                let (fa, fs) = (fa as *const std::ffi::c_void, fs as *const std::ffi::c_void);
                for i in 0..10_000u64 {
                    // SAFETY: both targets have that signature.
                    unsafe {
                        assert_eq!(c.call(fa, &[i, k]), i + k);
                        assert_eq!(c.call(fs, &[i + k, k]), i);
                    }
                }
            });
        }
    });
}

fn unsupported_signatures(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let too_many = sig(&format!("void ({})", vec!["int"; trampolines::MAX_ARGS + 1].join(", ")));
    assert!(matches!(t.caller(&too_many), Err(Error::Unsupported { .. })));
}

#[test]
#[should_panic(expected = "one word per parameter")]
fn wrong_word_count_panics() {
    let t = Trampolines::new(BackendKind::Libffi, LIMIT);
    let c = t.caller(&sig("long (long, long)")).expect("supported");
    // SAFETY: never reaches the call: the count is checked first.
    unsafe { c.call(addr(add as extern "C" fn(c_long, c_long) -> c_long), &[1]) };
}
