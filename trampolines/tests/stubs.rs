//! `swap_arg0` and `count`: argument 0 replaced and everything else untouched, exact counts
//! from many threads, and (dynasm) how few instructions they add to a call.

#[macro_use]
mod common;

#[cfg(target_arch = "x86_64")]
use common::stub_instructions;
use common::{addr, as_fn, sig, LIMIT};
use std::sync::atomic::{AtomicU64, Ordering};
use trampolines::{BackendKind, Mark, Trampolines};

for_both_backends!(swap_arg0_replaces_only_argument_0, count_is_exact_across_threads, count_in_front_of_swap_arg0);

#[repr(C)]
struct Ctx {
    id: i64,
}

static HOME: Ctx = Ctx { id: 7 };

extern "C" fn ctx_mul(ctx: *const Ctx, x: i64) -> i64 {
    // SAFETY: callers pass a static context.
    unsafe { (*ctx).id * x }
}

type Mixed = extern "C" fn(*const Ctx, f64, i32, f32, i8, f64, f64, f64, f64, f64, f64, f64, f64, u16, i64, i64) -> f64;
const MIXED: &str = "double (HPyContext *, double, int32_t, float, int8_t, double, double, double, double, double, double, double, double, uint16_t, int64_t, int64_t)";

/// Integer and floating-point arguments; `f9` and `f10` arrive on the stack.
#[allow(clippy::too_many_arguments)]
extern "C" fn mixed(
    ctx: *const Ctx,
    f1: f64,
    a: i32,
    f2: f32,
    b: i8,
    f3: f64,
    f4: f64,
    f5: f64,
    f6: f64,
    f7: f64,
    f8: f64,
    f9: f64,
    f10: f64,
    c: u16,
    d: i64,
    e: i64,
) -> f64 {
    // SAFETY: callers pass a static context.
    let id = unsafe { (*ctx).id } as f64;
    id * 1e6
        + f1
        + a as f64 * 2.0
        + f2 as f64 * 3.0
        + b as f64 * 5.0
        + f3
        + f4 * 2.0
        + f5 * 3.0
        + f6 * 4.0
        + f7 * 5.0
        + f8 * 6.0
        + f9 * 7.0
        + f10 * 8.0
        + c as f64 * 11.0
        + d as f64 * 13.0
        + e as f64 * 17.0
}

fn call_mixed(f: Mixed, ctx: *const Ctx) -> f64 {
    f(ctx, 0.5, -3, 1.25, -7, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 65535, -9, 1000)
}

fn swap_arg0_replaces_only_argument_0(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let home = &HOME as *const Ctx as u64;
    let code = t
        .swap_arg0(&sig("int64_t (HPyContext *, int64_t)"), addr(ctx_mul as extern "C" fn(_, _) -> _), home)
        .expect("stub");
    // SAFETY: made for this signature.
    let f: extern "C" fn(*const Ctx, i64) -> i64 = unsafe { as_fn(code) };
    assert_eq!(f(std::ptr::null(), 6), 42);
    let code = t.swap_arg0(&sig(MIXED), addr(mixed as Mixed), home).expect("stub");
    // SAFETY: made for this signature.
    let f: Mixed = unsafe { as_fn(code) };
    assert_eq!(call_mixed(f, 0x10 as *const Ctx), call_mixed(mixed, &HOME));
}

extern "C" fn square(x: i64) -> i64 {
    x * x
}

fn count_is_exact_across_threads(kind: BackendKind) {
    const THREADS: u64 = 8;
    const CALLS: u64 = 5_000;
    let t = Trampolines::new(kind, LIMIT);
    let squares = AtomicU64::new(0);
    let mixes = AtomicU64::new(0);
    // SAFETY: made for this signature; the counter outlives every call.
    let f: extern "C" fn(i64) -> i64 = unsafe {
        as_fn(t.count(&sig("int64_t (int64_t)"), addr(square as extern "C" fn(_) -> _), &squares).expect("stub"))
    };
    // SAFETY: as above.
    let g: Mixed = unsafe { as_fn(t.count(&sig(MIXED), addr(mixed as Mixed), &mixes).expect("stub")) };
    let expected = call_mixed(mixed, &HOME);
    std::thread::scope(|s| {
        for n in 0..THREADS as i64 {
            s.spawn(move || {
                for i in 0..CALLS as i64 {
                    assert_eq!(f(n * i), n * i * n * i);
                    if i % 10 == 0 {
                        assert_eq!(call_mixed(g, &HOME), expected);
                    }
                }
            });
        }
    });
    assert_eq!(squares.load(Ordering::Relaxed), THREADS * CALLS);
    assert_eq!(mixes.load(Ordering::Relaxed), THREADS * CALLS / 10);
}

fn count_in_front_of_swap_arg0(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let s = sig("int64_t (HPyContext *, int64_t)");
    let counter = AtomicU64::new(0);
    let swap = t.swap_arg0(&s, addr(ctx_mul as extern "C" fn(_, _) -> _), &HOME as *const Ctx as u64).expect("stub");
    // SAFETY: made for this signature; `counter` outlives the calls.
    let f: extern "C" fn(*const Ctx, i64) -> i64 = unsafe { as_fn(t.count(&s, swap, &counter).expect("stub")) };
    for i in 0..100 {
        assert_eq!(f(std::ptr::null(), i), 7 * i);
    }
    assert_eq!(counter.load(Ordering::Relaxed), 100);
}

/// Calling through a `swap_arg0` stub costs at most 8 instructions more than calling the
/// target directly: with dynasm it is `mov rdi, value; mov r11, target; jmp r11`.
#[cfg(target_arch = "x86_64")]
#[test]
fn dynasm_swap_arg0_adds_at_most_8_instructions() {
    let t = Trampolines::new(BackendKind::Dynasm, LIMIT);
    let target = addr(ctx_mul as extern "C" fn(_, _) -> _);
    let code = t.swap_arg0(&sig("int64_t (HPyContext *, int64_t)"), target, 0x1234_5678_9abc).expect("stub");
    let listing = stub_instructions(code);
    println!("swap_arg0 stub: {listing:#?}");
    assert!(listing.len() <= 8, "{listing:?}");
    assert_eq!(listing, ["mov rdi,123456789ABCh", &format!("mov r11,{:X}h", target as u64), "jmp r11"]);
}

#[cfg(target_arch = "x86_64")]
#[test]
fn dynasm_count_adds_at_most_8_instructions() {
    let t = Trampolines::new(BackendKind::Dynasm, LIMIT);
    let counter = AtomicU64::new(0);
    let code = t.count(&sig("int64_t (int64_t)"), addr(square as extern "C" fn(_) -> _), &counter).expect("stub");
    let listing = stub_instructions(code);
    println!("count stub: {listing:#?}");
    assert!(listing.len() <= 8, "{listing:?}");
    assert_eq!(listing[1], "lock inc qword ptr [r11]");
}

/// What `swap_arg0_and_mark` marks: argument 0 points to a struct whose second word points to a
/// flag byte at offset 8, as a CPython debug context's `_private` points to its validity flag.
#[repr(C)]
struct Flagged {
    id: i64,
    info: *mut FlagInfo,
}

#[repr(C)]
struct FlagInfo {
    magic: i64,
    flag: u8,
}

/// Clears the caller's flag (as a callee deeper than debug mode's context cache does), through
/// the pointer in its own `ctx` argument: the stub must set it again after the call.
static mut SEEN: *mut FlagInfo = std::ptr::null_mut();

extern "C" fn clear_then_mul(ctx: *const Ctx, x: i64) -> i64 {
    // SAFETY: the test sets SEEN to a live FlagInfo before calling; single-threaded test.
    unsafe { (*SEEN).flag = 0 };
    // SAFETY: callers pass a static context.
    unsafe { (*ctx).id * x }
}

extern "C" fn clear_then_half(ctx: *const Ctx, x: f64) -> f64 {
    // SAFETY: as above.
    unsafe { (*SEEN).flag = 0 };
    // SAFETY: as above.
    x / 2.0 + unsafe { (*ctx).id } as f64
}

for_both_backends!(swap_arg0_and_mark_sets_the_flag_after_the_call);

fn swap_arg0_and_mark_sets_the_flag_after_the_call(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let home = &HOME as *const Ctx as u64;
    let mark = Mark { via: 8, at: 8, byte: 1 };
    let int = t.swap_arg0_and_mark(
        &sig("int64_t (HPyContext *, int64_t)"),
        addr(clear_then_mul as extern "C" fn(_, _) -> _),
        home,
        mark,
    );
    let float = t.swap_arg0_and_mark(
        &sig("double (HPyContext *, double)"),
        addr(clear_then_half as extern "C" fn(_, _) -> _),
        home,
        mark,
    );
    let stacked = t.swap_arg0_and_mark(&sig(MIXED), addr(mixed as Mixed), home, mark).expect("no error");
    let (int, float) = (int.expect("no error"), float.expect("no error"));
    // One pointer to the flag for the caller and for the targets (which clear it through SEEN).
    let info: *mut FlagInfo = Box::into_raw(Box::new(FlagInfo { magic: 0x5eed, flag: 1 }));
    let caller = Flagged { id: -1, info };
    // SAFETY: single-threaded; `info` lives until the end of the test.
    unsafe { SEEN = info };
    // SAFETY: `info` is live (the closure copies the pointer, not a borrow of what it points to).
    let flag = move || unsafe { ((*info).flag, (*info).magic) };
    if kind == BackendKind::Dynasm {
        assert!(stacked.is_none(), "stack arguments: no dynasm stub");
    } else {
        // SAFETY: made for this signature; argument 0 points to a `Flagged` (`mixed` reads a Ctx
        // there: the swap gives it HOME instead).
        let f: Mixed = unsafe { as_fn(stacked.expect("a libffi closure for any shape")) };
        // SAFETY: `info` is live.
        unsafe { (*info).flag = 0 };
        assert_eq!(call_mixed(f, (&caller as *const Flagged).cast()), call_mixed(mixed, &HOME));
        assert_eq!(flag(), (1, 0x5eed), "set by the closure after the call");
    }
    // SAFETY: made for these signatures; argument 0 points to a `Flagged` whose `info` is live.
    let (f, g): (extern "C" fn(*const Flagged, i64) -> i64, extern "C" fn(*const Flagged, f64) -> f64) =
        unsafe { (as_fn(int.expect("stub")), as_fn(float.expect("stub"))) };
    assert_eq!(f(&caller, 6), 42, "the target got the swapped context and the argument");
    assert_eq!(flag(), (1, 0x5eed), "cleared by the target, set again by the stub");
    assert_eq!(g(&caller, 3.0), 8.5, "a double result passes through");
    assert_eq!((flag(), caller.id), ((1, 0x5eed), -1), "nothing else written");
    // SAFETY: made by Box::into_raw above; no call uses it any more.
    drop(unsafe { Box::from_raw(info) });
    // The first code of this factory (made first above), so at the start of its page.
    #[cfg(target_arch = "x86_64")]
    if kind == BackendKind::Dynasm {
        let listing = stub_instructions(int.unwrap());
        assert_eq!(listing.len(), 9, "{listing:?}");
        assert!(listing[4].starts_with("call") && listing[6].starts_with("mov byte ptr"), "{listing:?}");
    }
}
