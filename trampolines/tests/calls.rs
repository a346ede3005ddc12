//! Intercepting trampolines: real calls through them, with handlers that pass calls through,
//! rewrite arguments and results, invoke twice, or not at all.

#[macro_use]
mod common;

use common::{addr, as_fn, pass, sig, LIMIT};
use std::cell::Cell;
use std::ffi::{c_long, c_void};
use std::sync::Mutex;
use trampolines::{BackendKind, Call, Error, Trampolines};

for_both_backends!(
    void_without_arguments,
    context_and_intptr,
    double_argument_and_result,
    float_and_int,
    narrow_integers,
    handles,
    wide_signatures_pass_through,
    stack_arguments_seen_and_rewritten,
    twenty_four_arguments,
    invoke_twice,
    result_without_invoking,
    nothing_done_returns_zero,
    unsupported_signatures,
);

thread_local! {
    /// Calls of the targets that count, per test thread.
    static CALLS: Cell<u64> = const { Cell::new(0) };
}

fn calls() -> u64 {
    CALLS.get()
}

fn tick() {
    CALLS.set(CALLS.get() + 1);
}

/// Stands for an `HPyContext`.
#[repr(C)]
struct Ctx {
    id: isize,
}

static CTX_A: Ctx = Ctx { id: 1 };
static CTX_B: Ctx = Ctx { id: 2 };

fn ctx_addr(ctx: &'static Ctx) -> u64 {
    ctx as *const Ctx as u64
}

/// `HPy`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
struct H {
    i: isize,
}

/// FNV-1a style: order-sensitive, so a misplaced argument shows.
fn hash(words: &[u64]) -> u64 {
    words.iter().fold(0xcbf2_9ce4_8422_2325, |h, &w| (h ^ w).wrapping_mul(0x0100_0000_01b3))
}

extern "C" fn void_target() {
    tick();
}

extern "C" fn ctx_add(ctx: *const Ctx, x: isize) -> isize {
    // SAFETY: callers pass one of the static contexts.
    unsafe { (*ctx).id * 1_000_000 + x }
}

extern "C" fn half(x: f64) -> f64 {
    x / 2.0
}

extern "C" fn scale(x: f32, n: i32) -> f32 {
    x * n as f32
}

extern "C" fn narrow(a: i8, b: u16, c: bool, d: u32) -> i16 {
    a as i16 * 100 + (b % 100) as i16 + c as i16 * 7 - (d % 50) as i16
}

extern "C" fn handle_op(ctx: *const Ctx, a: H, n: isize, b: H) -> H {
    // SAFETY: callers pass one of the static contexts.
    H { i: unsafe { (*ctx).id } * 1_000_000 + a.i * 1000 + b.i * 10 + n }
}

type Wide14 = extern "C" fn(i64, f64, i32, f32, i16, *const u8, i8, u8, f64, i64, f32, u32, f64, *const i64) -> u64;
const WIDE14: &str = "uint64_t (int64_t, double, int32_t, float, int16_t, uint8_t *, int8_t, uint8_t, double, int64_t, float, uint32_t, double, int64_t *)";

/// 14 parameters: 9 integer class (the last 3 on the stack) and 5 floating point.
extern "C" fn wide14(
    a: i64,
    b: f64,
    c: i32,
    d: f32,
    e: i16,
    f: *const u8,
    g: i8,
    h: u8,
    i: f64,
    j: i64,
    k: f32,
    l: u32,
    m: f64,
    n: *const i64,
) -> u64 {
    hash(&[
        a as u64,
        b.to_bits(),
        c as u64,
        d.to_bits().into(),
        e as u64,
        f as u64,
        g as u64,
        h.into(),
        i.to_bits(),
        j as u64,
        k.to_bits().into(),
        l.into(),
        m.to_bits(),
        n as u64,
    ])
}

type Wide16 = extern "C" fn(f64, i64, f32, i8, f64, u16, f64, i32, f32, *const u8, f64, i64, f64, u8, f32, f64) -> f64;
const WIDE16: &str = "double (double, int64_t, float, int8_t, double, uint16_t, double, int32_t, float, uint8_t *, double, int64_t, double, uint8_t, float, double)";

/// 16 parameters: 7 integer class (the last, `h`, on the stack) and 9 floating point (the
/// last, `f8`, on the stack).
#[allow(clippy::too_many_arguments)]
extern "C" fn wide16(
    f0: f64,
    a: i64,
    f1: f32,
    b: i8,
    f2: f64,
    c: u16,
    f3: f64,
    d: i32,
    f4: f32,
    e: *const u8,
    f5: f64,
    g: i64,
    f6: f64,
    h: u8,
    f7: f32,
    f8: f64,
) -> f64 {
    let words = [
        f0.to_bits(),
        a as u64,
        f1.to_bits().into(),
        b as u64,
        f2.to_bits(),
        c.into(),
        f3.to_bits(),
        d as u64,
        f4.to_bits().into(),
        e as u64,
        f5.to_bits(),
        g as u64,
        f6.to_bits(),
        h.into(),
        f7.to_bits().into(),
        f8.to_bits(),
    ];
    // Exact in a double.
    (hash(&words) >> 12) as f64
}

fn call_wide16(f: Wide16, h: u8, f8: f64) -> f64 {
    f(0.5, -1, 1.5, -2, 2.5, 65535, 3.5, -4, 4.5, 0x1000 as *const u8, 5.5, i64::MIN, 6.5, h, 7.5, f8)
}

/// The arguments `call_wide16` passes, as `Call` shows them, with the meaningful bits of each.
fn wide16_expected(h: u8, f8: f64) -> [(u64, u64); 16] {
    let f32b = |x: f32| (u64::from(x.to_bits()), 0xffff_ffff);
    let all = u64::MAX;
    [
        (0.5f64.to_bits(), all),
        ((-1i64) as u64, all),
        f32b(1.5),
        ((-2i8) as u8 as u64, 0xff),
        (2.5f64.to_bits(), all),
        (65535, 0xffff),
        (3.5f64.to_bits(), all),
        ((-4i32) as u32 as u64, 0xffff_ffff),
        f32b(4.5),
        (0x1000, all),
        (5.5f64.to_bits(), all),
        (i64::MIN as u64, all),
        (6.5f64.to_bits(), all),
        (h.into(), 0xff),
        f32b(7.5),
        (f8.to_bits(), all),
    ]
}

fn void_without_arguments(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let code = t.intercept(&sig("void (void)"), pass, addr(void_target as extern "C" fn())).expect("trampoline");
    // SAFETY: made for this signature.
    let f: extern "C" fn() = unsafe { as_fn(code) };
    let before = calls();
    f();
    f();
    assert_eq!(calls(), before + 2);
}

/// Rewrites the context (argument 0) and doubles the integer.
unsafe fn to_ctx_b_doubled(call: &mut dyn Call, target: *const c_void) {
    assert_eq!(call.arg(0), ctx_addr(&CTX_A));
    call.set_arg(0, ctx_addr(&CTX_B));
    call.set_arg(1, call.arg(1).wrapping_mul(2));
    // SAFETY: the handler's data is a function of this trampoline's signature.
    unsafe { call.invoke(target) };
}

fn context_and_intptr(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let s = sig("intptr_t (HPyContext *, intptr_t)");
    let target = addr(ctx_add as extern "C" fn(_, _) -> _);
    // SAFETY: made for this signature.
    let through: extern "C" fn(*const Ctx, isize) -> isize =
        unsafe { as_fn(t.intercept(&s, pass, target).expect("trampoline")) };
    assert_eq!(through(&CTX_A, 42), 1_000_042);
    assert_eq!(through(&CTX_B, -42), 1_999_958);
    // SAFETY: as above.
    let rewritten: extern "C" fn(*const Ctx, isize) -> isize =
        unsafe { as_fn(t.intercept(&s, to_ctx_b_doubled, target).expect("trampoline")) };
    assert_eq!(rewritten(&CTX_A, 21), 2_000_042);
    assert_eq!(rewritten(&CTX_A, -500_000), 1_000_000);
}

/// Adds 1 to the argument and multiplies the result by 10.
unsafe fn plus_one_times_ten(call: &mut dyn Call, target: *const c_void) {
    assert_eq!(call.ret(), 0, "no result before invoking");
    call.set_arg(0, (f64::from_bits(call.arg(0)) + 1.0).to_bits());
    // SAFETY: the handler's data is a function of this trampoline's signature.
    unsafe { call.invoke(target) };
    call.set_ret((f64::from_bits(call.ret()) * 10.0).to_bits());
}

fn double_argument_and_result(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let s = sig("double (double)");
    let target = addr(half as extern "C" fn(_) -> _);
    // SAFETY: made for this signature.
    let through: extern "C" fn(f64) -> f64 = unsafe { as_fn(t.intercept(&s, pass, target).expect("trampoline")) };
    assert_eq!(through(5.0), 2.5);
    // SAFETY: as above.
    let rewritten: extern "C" fn(f64) -> f64 =
        unsafe { as_fn(t.intercept(&s, plus_one_times_ten, target).expect("trampoline")) };
    assert_eq!(rewritten(5.0), 30.0);
    assert_eq!(rewritten(-3.0), -10.0);
}

/// Checks and rewrites the float and int, then the float result.
unsafe fn float_rewrite(call: &mut dyn Call, target: *const c_void) {
    assert_eq!(call.arg(0), u64::from(1.5f32.to_bits()), "float bits in the low 32, nothing above");
    assert_eq!(call.arg(1) as i32, -4);
    call.set_arg(0, u64::from(2.5f32.to_bits()));
    call.set_arg(1, 3);
    // SAFETY: the handler's data is a function of this trampoline's signature.
    unsafe { call.invoke(target) };
    assert_eq!(call.ret(), u64::from(7.5f32.to_bits()));
    call.set_ret(u64::from((f32::from_bits(call.ret() as u32) + 0.25).to_bits()));
}

fn float_and_int(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let s = sig("float (float, int)");
    let target = addr(scale as extern "C" fn(_, _) -> _);
    // SAFETY: made for this signature.
    let through: extern "C" fn(f32, i32) -> f32 = unsafe { as_fn(t.intercept(&s, pass, target).expect("trampoline")) };
    assert_eq!(through(1.5, -4), -6.0);
    // SAFETY: as above.
    let rewritten: extern "C" fn(f32, i32) -> f32 =
        unsafe { as_fn(t.intercept(&s, float_rewrite, target).expect("trampoline")) };
    assert_eq!(rewritten(1.5, -4), 7.75);
}

/// Checks the narrow arguments' meaningful bits, then replaces the `int8_t` with a full word.
unsafe fn narrow_rewrite(call: &mut dyn Call, target: *const c_void) {
    assert_eq!(call.arg(0) as i8, -5);
    assert_eq!(call.arg(1) as u16, 65535);
    assert_eq!(call.arg(2) as u8, 1);
    assert_eq!(call.arg(3) as u32, 4_000_000_000);
    call.set_arg(0, (-7i64) as u64);
    // SAFETY: the handler's data is a function of this trampoline's signature.
    unsafe { call.invoke(target) };
    assert_eq!(call.ret() as i16, -700 + 35 + 7);
}

fn narrow_integers(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let s = sig("int16_t (int8_t, uint16_t, bool, uint32_t)");
    let target = addr(narrow as extern "C" fn(_, _, _, _) -> _);
    // SAFETY: made for this signature.
    let through: extern "C" fn(i8, u16, bool, u32) -> i16 =
        unsafe { as_fn(t.intercept(&s, pass, target).expect("trampoline")) };
    assert_eq!(through(-5, 65535, true, 4_000_000_000), narrow(-5, 65535, true, 4_000_000_000));
    assert_eq!(through(-5, 65535, true, 4_000_000_000), -500 + 35 + 7);
    // SAFETY: as above.
    let rewritten: extern "C" fn(i8, u16, bool, u32) -> i16 =
        unsafe { as_fn(t.intercept(&s, narrow_rewrite, target).expect("trampoline")) };
    assert_eq!(rewritten(-5, 65535, true, 4_000_000_000), -700 + 35 + 7);
}

/// Translates like the runtime does: a new context, handles moved by +100, the result back by -7.
unsafe fn translate_handles(call: &mut dyn Call, target: *const c_void) {
    call.set_arg(0, ctx_addr(&CTX_B));
    for i in [1, 3] {
        call.set_arg(i, call.arg(i) + 100);
    }
    // SAFETY: the handler's data is a function of this trampoline's signature.
    unsafe { call.invoke(target) };
    call.set_ret(call.ret() - 7);
}

fn handles(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let s = sig("HPy (HPyContext *, HPy, HPy_ssize_t, HPy)");
    let target = addr(handle_op as extern "C" fn(_, _, _, _) -> _);
    type F = extern "C" fn(*const Ctx, H, isize, H) -> H;
    // SAFETY: made for this signature.
    let through: F = unsafe { as_fn(t.intercept(&s, pass, target).expect("trampoline")) };
    assert_eq!(through(&CTX_A, H { i: 3 }, 5, H { i: 4 }), H { i: 1_003_045 });
    // SAFETY: as above.
    let translated: F = unsafe { as_fn(t.intercept(&s, translate_handles, target).expect("trampoline")) };
    assert_eq!(translated(&CTX_A, H { i: 3 }, 5, H { i: 4 }), H { i: 2_000_000 + 103_000 + 1040 + 5 - 7 });
}

fn wide_signatures_pass_through(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    // SAFETY: made for this signature.
    let f: Wide14 = unsafe { as_fn(t.intercept(&sig(WIDE14), pass, addr(wide14 as Wide14)).expect("trampoline")) };
    let args = (
        -1i64,
        0.25,
        -2i32,
        1.75f32,
        -3i16,
        0x10 as *const u8,
        -4i8,
        250u8,
        -0.5,
        i64::MAX,
        3.25f32,
        u32::MAX,
        1e300,
        0x20 as *const i64,
    );
    let direct = wide14(
        args.0, args.1, args.2, args.3, args.4, args.5, args.6, args.7, args.8, args.9, args.10, args.11, args.12,
        args.13,
    );
    let through = f(
        args.0, args.1, args.2, args.3, args.4, args.5, args.6, args.7, args.8, args.9, args.10, args.11, args.12,
        args.13,
    );
    assert_eq!(through, direct);
    // SAFETY: as above.
    let f: Wide16 = unsafe { as_fn(t.intercept(&sig(WIDE16), pass, addr(wide16 as Wide16)).expect("trampoline")) };
    assert_eq!(call_wide16(f, 200, 8.5), call_wide16(wide16, 200, 8.5));
}

/// What `record_and_rewrite` saw, and where to send the call.
struct Recorder {
    target: *const c_void,
    seen: Mutex<Vec<u64>>,
}

/// Records all 16 arguments of a `WIDE16` call, then rewrites both stack arguments.
unsafe fn record_and_rewrite(call: &mut dyn Call, data: *const c_void) {
    // SAFETY: the trampoline was made with a `Recorder` that outlives its calls.
    let recorder = unsafe { &*data.cast::<Recorder>() };
    *recorder.seen.lock().expect("not poisoned") = (0..16).map(|i| call.arg(i)).collect();
    call.set_arg(13, 7);
    call.set_arg(15, 9.5f64.to_bits());
    // SAFETY: the recorder's target has this trampoline's signature.
    unsafe { call.invoke(recorder.target) };
}

fn stack_arguments_seen_and_rewritten(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let recorder = Recorder { target: addr(wide16 as Wide16), seen: Mutex::new(Vec::new()) };
    let data = (&recorder as *const Recorder).cast();
    // SAFETY: made for this signature; `recorder` outlives the calls.
    let f: Wide16 = unsafe { as_fn(t.intercept(&sig(WIDE16), record_and_rewrite, data).expect("trampoline")) };
    assert_eq!(call_wide16(f, 200, 8.5), call_wide16(wide16, 7, 9.5));
    let seen = recorder.seen.lock().expect("not poisoned").clone();
    for (i, (&got, (want, mask))) in seen.iter().zip(wide16_expected(200, 8.5)).enumerate() {
        assert_eq!(got & mask, want, "argument {i}: {got:#x}");
    }
}

type Many = extern "C" fn(
    i64,
    f64,
    i64,
    f64,
    i64,
    f64,
    i64,
    f64,
    i64,
    f64,
    i64,
    f64,
    i64,
    f64,
    i64,
    f64,
    i64,
    f64,
    i64,
    f64,
    i64,
    f64,
    i64,
    f64,
) -> u64;

/// Twelve integers and twelve doubles, alternating: six and four of them on the stack.
#[allow(clippy::too_many_arguments)]
extern "C" fn many(
    a0: i64,
    b0: f64,
    a1: i64,
    b1: f64,
    a2: i64,
    b2: f64,
    a3: i64,
    b3: f64,
    a4: i64,
    b4: f64,
    a5: i64,
    b5: f64,
    a6: i64,
    b6: f64,
    a7: i64,
    b7: f64,
    a8: i64,
    b8: f64,
    a9: i64,
    b9: f64,
    a10: i64,
    b10: f64,
    a11: i64,
    b11: f64,
) -> u64 {
    let ints = [a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11].map(|a| a as u64);
    let doubles = [b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11].map(f64::to_bits);
    hash(&[ints, doubles].concat())
}

fn twenty_four_arguments(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let s = sig(&format!("uint64_t ({})", ["long, double"; 12].join(", ")));
    // SAFETY: made for this signature.
    let f: Many = unsafe { as_fn(t.intercept(&s, pass, addr(many as Many)).expect("trampoline")) };
    let call = |f: Many| {
        f(1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5, 5.5, 6, 6.5, 7, 7.5, 8, 8.5, 9, 9.5, 10, 10.5, 11, 11.5, 12, 12.5)
    };
    assert_eq!(call(f), call(many));
}

extern "C" fn counted_increment(x: c_long) -> c_long {
    tick();
    x + 1
}

/// Invokes, feeds the first result (times 10) to a second invocation, and keeps its result.
unsafe fn twice(call: &mut dyn Call, target: *const c_void) {
    // SAFETY: the handler's data is a function of this trampoline's signature.
    unsafe { call.invoke(target) };
    call.set_arg(0, call.ret() * 10);
    // SAFETY: the handler's data is a function of this trampoline's signature.
    unsafe { call.invoke(target) };
}

fn invoke_twice(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let target = addr(counted_increment as extern "C" fn(_) -> _);
    // SAFETY: made for this signature.
    let f: extern "C" fn(c_long) -> c_long =
        unsafe { as_fn(t.intercept(&sig("long (long)"), twice, target).expect("trampoline")) };
    let before = calls();
    assert_eq!(f(1), 21);
    assert_eq!(calls(), before + 2);
}

unsafe fn answer_without_calling(call: &mut dyn Call, _: *const c_void) {
    call.set_ret(match call.arg(0) {
        0 => 77,
        _ => 2.5f64.to_bits(),
    });
}

fn result_without_invoking(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let target = addr(counted_increment as extern "C" fn(_) -> _);
    // SAFETY: made for these signatures.
    let long: extern "C" fn(c_long) -> c_long =
        unsafe { as_fn(t.intercept(&sig("long (long)"), answer_without_calling, target).expect("trampoline")) };
    // SAFETY: as above.
    let double: extern "C" fn(c_long) -> f64 =
        unsafe { as_fn(t.intercept(&sig("double (long)"), answer_without_calling, target).expect("trampoline")) };
    let before = calls();
    assert_eq!(long(0), 77);
    assert_eq!(double(1), 2.5);
    assert_eq!(calls(), before, "the target was not called");
}

unsafe fn do_nothing(_: &mut dyn Call, _: *const c_void) {}

fn nothing_done_returns_zero(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let target = addr(counted_increment as extern "C" fn(_) -> _);
    // SAFETY: made for these signatures.
    let long: extern "C" fn(c_long) -> c_long =
        unsafe { as_fn(t.intercept(&sig("long (long)"), do_nothing, target).expect("trampoline")) };
    // SAFETY: as above.
    let double: extern "C" fn(f64) -> f64 =
        unsafe { as_fn(t.intercept(&sig("double (double)"), do_nothing, target).expect("trampoline")) };
    // SAFETY: as above.
    let void: extern "C" fn() =
        unsafe { as_fn(t.intercept(&sig("void (void)"), do_nothing, target).expect("trampoline")) };
    let before = calls();
    assert_eq!(long(5), 0);
    assert_eq!(double(5.0), 0.0);
    void();
    assert_eq!(calls(), before);
}

fn unsupported_signatures(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let target = addr(half as extern "C" fn(_) -> _);
    for s in ["double (double)", "void (void)", "int (float, int)"] {
        match t.swap_arg0(&sig(s), target, 0) {
            Err(e @ Error::Unsupported { .. }) => {
                assert!(e.to_string().contains(s), "{e}");
                assert!(e.to_string().contains("integer-class argument 0"), "{e}");
            }
            other => panic!("swap_arg0 on {s}: expected Unsupported, got {other:?}"),
        }
    }
    let too_many = sig(&format!("void ({})", vec!["int"; trampolines::MAX_ARGS + 1].join(", ")));
    let e = t.intercept(&too_many, pass, target).expect_err("too many parameters");
    assert!(e.to_string().contains("65 parameters, at most 64"), "{e}");
    assert!(matches!(t.count(&too_many, target, std::ptr::null()), Err(Error::Unsupported { .. })));
    assert_eq!(t.code_bytes(), 0, "nothing was made");
}
