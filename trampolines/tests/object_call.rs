//! `object_call`: a vectorcall-convention stub over an object model the test makes up (a type
//! word at byte 8, a `double` at byte 16, an integer's size word at 16 and digit at 24, two `bool`
//! objects, objects passed as their address plus one): accepted calls reach the target with the
//! objects' values (integers widened to 64 bits) or adjusted addresses, and a result is widened
//! and boxed or adjusted back; a failed target gives null (an object result released); a null
//! object result becomes the caller's error; everything else (another type, an integer out of the
//! C type's range or not small, another count, keywords) reaches the general function with the
//! stub's arguments untouched. libffi has no such stub; too many parameters are refused.

#[macro_use]
mod common;

#[cfg(target_arch = "x86_64")]
use common::stub_instructions_within;
use common::{addr, as_fn, LIMIT};
use std::cell::Cell;
use std::ffi::c_void;
use trampolines::{BackendKind, IntLayout, ObjectCall, Part, Trampolines, MAX_DOUBLES, MAX_OBJECTS};

for_both_backends!(calls, objects, refused, int_arguments, narrow_ranges, mixed, results);

/// An object of the made-up model: a word, the type, a value.
#[repr(C)]
struct Obj {
    refs: u64,
    ty: *const u8,
    value: f64,
}

static FLOAT: u8 = 0;
static OTHER: u8 = 0;
const FLAG: usize = 1 << 63;

fn float(value: f64) -> Obj {
    Obj { refs: 1, ty: &FLOAT, value }
}

thread_local! {
    static FAIL: Cell<bool> = const { Cell::new(false) };
    static BOXED: Cell<Option<f64>> = const { Cell::new(None) };
    static GENERAL: Cell<Option<(usize, usize, usize, usize)>> = const { Cell::new(None) };
    static FIRST: Cell<u64> = const { Cell::new(0) };
    static RELEASED: Cell<usize> = const { Cell::new(0) };
    static NULL_OF: Cell<usize> = const { Cell::new(0) };
}

const BOXED_MARK: usize = 0xb0;
const GENERAL_MARK: usize = 0x6e;

extern "C" fn failed() -> *const c_void {
    if FAIL.get() {
        addr(failed as extern "C" fn() -> *const c_void)
    } else {
        std::ptr::null()
    }
}

extern "C" fn box_result(d: f64) -> *const c_void {
    BOXED.set(Some(d));
    BOXED_MARK as *const c_void
}

extern "C" fn general(callable: usize, args: usize, nargsf: usize, kwnames: usize) -> *const c_void {
    GENERAL.set(Some((callable, args, nargsf, kwnames)));
    GENERAL_MARK as *const c_void
}

extern "C" fn half(x: f64) -> f64 {
    x / 2.0
}

extern "C" fn weighted(first: u64, a: f64, b: f64, c: f64) -> f64 {
    FIRST.set(first);
    a + 10.0 * b + 100.0 * c
}

type Vectorcall = unsafe extern "C" fn(usize, *const *const Obj, usize, usize) -> *const c_void;

extern "C" fn release(obj: usize) {
    RELEASED.set(obj);
}

const NULL_MARK: usize = 0x4e;

extern "C" fn null_result(callable: usize) -> *const c_void {
    NULL_OF.set(callable);
    NULL_MARK as *const c_void
}

/// `(first, a, x, b)`: `a` or `b` (chosen by `x`'s sign, 0 if `x` is 0), as the objects came.
extern "C" fn pick(first: u64, a: usize, x: f64, b: usize) -> usize {
    FIRST.set(first);
    if x == 0.0 {
        0
    } else if x > 0.0 {
        a
    } else {
        b
    }
}

fn request(target: *const c_void, first: Option<u64>, doubles: usize) -> ObjectCall {
    ObjectCall {
        target,
        first,
        params: vec![Part::Double; doubles],
        ret: Part::Double,
        count_mask: !(FLAG as u64),
        type_at: 8,
        exact_type: &FLOAT as *const u8 as u64,
        value_at: 16,
        ints: Some(INTS),
        bools: None,
        object_add: 1,
        failed: addr(failed as extern "C" fn() -> *const c_void),
        box_double: addr(box_result as extern "C" fn(f64) -> *const c_void),
        box_signed: addr(box_signed as extern "C" fn(i64) -> *const c_void),
        box_unsigned: addr(box_unsigned as extern "C" fn(u64) -> *const c_void),
        box_bool: addr(box_bool as extern "C" fn(i64) -> *const c_void),
        box_void: addr(box_void as extern "C" fn(usize) -> *const c_void),
        void_object: VOID_OBJECT as u64,
        release: addr(release as extern "C" fn(usize)),
        null_result: addr(null_result as extern "C" fn(usize) -> *const c_void),
        general: addr(general as extern "C" fn(usize, usize, usize, usize) -> *const c_void),
    }
}

/// Calls `f` and says what happened: `Ok(boxed value)` or `Err(the general function's arguments)`.
fn outcome(f: Vectorcall, args: &[*const Obj], nargsf: usize, kwnames: usize) -> Result<Option<f64>, [usize; 4]> {
    BOXED.set(None);
    GENERAL.set(None);
    // SAFETY: the stub's convention; `args` holds live objects (or fewer than it reads, which it
    // checks first through `nargsf`).
    let r = unsafe { f(0x1234, args.as_ptr(), nargsf, kwnames) } as usize;
    match (r, GENERAL.get()) {
        (GENERAL_MARK, Some((c, a, n, k))) => Err([c, a, n, k]),
        (BOXED_MARK, None) => Ok(BOXED.get()),
        (0, None) => Ok(None),
        other => panic!("unexpected {other:?}"),
    }
}

fn p0(args: &[*const Obj]) -> usize {
    args.as_ptr() as usize
}

fn calls(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let one = t.object_call(&request(addr(half as extern "C" fn(f64) -> f64), None, 1)).expect("made");
    let three = request(addr(weighted as extern "C" fn(u64, f64, f64, f64) -> f64), Some(77), 3);
    let three = t.object_call(&three).expect("made");
    let (Some(one), Some(three)) = (one, three) else {
        assert_eq!(kind, BackendKind::Libffi, "only libffi has no stub");
        assert!(one.is_none() && three.is_none());
        return;
    };
    // SAFETY: made for this convention.
    let (one, three): (Vectorcall, Vectorcall) = unsafe { (as_fn(one), as_fn(three)) };
    let (a, b, c) = (float(3.0), float(0.5), float(-2.0));
    let args = [&a as *const Obj, &b, &c];
    assert_eq!(outcome(one, &args[..1], 1, 0), Ok(Some(1.5)));
    assert_eq!(outcome(one, &args[..1], 1 | FLAG, 0), Ok(Some(1.5)), "flags are not part of the count");
    FIRST.set(0);
    assert_eq!(outcome(three, &args, 3, 0), Ok(Some(3.0 + 5.0 - 200.0)));
    assert_eq!(FIRST.get(), 77, "the first word");

    // Another mask: the count is masked, not doubled.
    let mut r = request(addr(half as extern "C" fn(f64) -> f64), None, 1);
    r.count_mask = 0xff;
    // SAFETY: made for this convention.
    let masked: Vectorcall = unsafe { as_fn(t.object_call(&r).expect("made").expect("dynasm")) };
    assert_eq!(outcome(masked, &args[..1], 0x7701, 0), Ok(Some(1.5)), "bits outside the mask are flags");
    assert_eq!(outcome(masked, &args[..1], 0x102, 0), Err([0x1234, p0(&args), 0x102, 0]));

    FAIL.set(true);
    assert_eq!(outcome(three, &args, 3, 0), Ok(None), "a failed call gives null, its result unboxed");
    FAIL.set(false);

    // Refused: everything reaches the general function as the stub got it.
    let p = args.as_ptr() as usize;
    assert_eq!(outcome(one, &args, 2, 0), Err([0x1234, p, 2, 0]), "too many");
    assert_eq!(outcome(one, &args, FLAG, 0), Err([0x1234, p, FLAG, 0]), "too few");
    assert_eq!(outcome(one, &args[..1], 1, 0x99), Err([0x1234, p, 1, 0x99]), "keywords");
    let other = Obj { refs: 1, ty: &OTHER, value: 1.0 };
    let mixed = [&a as *const Obj, &other, &c];
    let m = mixed.as_ptr() as usize;
    assert_eq!(outcome(three, &mixed, 3 | FLAG, 0), Err([0x1234, m, 3 | FLAG, 0]), "another type");
    assert_eq!(outcome(one, &mixed[1..2], 1, 0), Err([0x1234, m + 8, 1, 0]), "another type");
}

fn objects(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let mut r = request(addr(pick as extern "C" fn(u64, usize, f64, usize) -> usize), Some(5), 0);
    r.params = vec![Part::Object, Part::Double, Part::Object];
    r.ret = Part::Object;
    let Some(code) = t.object_call(&r).expect("made") else {
        assert_eq!(kind, BackendKind::Libffi, "only libffi has no stub");
        return;
    };
    // SAFETY: made for this convention.
    let f: Vectorcall = unsafe { as_fn(code) };
    let (a, b, pos, zero) = (float(1.0), Obj { refs: 1, ty: &OTHER, value: 0.0 }, float(1.0), float(0.0));
    let neg = float(-1.0);
    let (pa, pb) = (&a as *const Obj as usize, &b as *const Obj as usize);
    let call = |x: &Obj, nargsf: usize| {
        GENERAL.set(None);
        NULL_OF.set(0);
        RELEASED.set(0);
        FIRST.set(0);
        let args = [&a as *const Obj, x, &b];
        // SAFETY: the stub's convention, three live objects.
        (unsafe { f(0x1234, args.as_ptr(), nargsf, 0) } as usize, GENERAL.get().map(|g| g.2))
    };
    assert_eq!(call(&pos, 3 | FLAG), (pa, None), "the object result, its address again");
    assert_eq!(FIRST.get(), 5);
    assert_eq!(call(&neg, 3), (pb, None), "an object of any type");
    assert_eq!(call(&zero, 3), (NULL_MARK, None), "a null result: the caller's error");
    assert_eq!(NULL_OF.get(), 0x1234, "for the callable");
    FAIL.set(true);
    assert_eq!(call(&pos, 3), (0, None), "a failed call");
    assert_eq!(RELEASED.get(), pa, "releases its object result");
    assert_eq!(call(&zero, 3), (0, None), "a failed call with a null result");
    assert_eq!(RELEASED.get(), 0, "releases nothing");
    FAIL.set(false);
    assert_eq!(call(&b, 3), (GENERAL_MARK, Some(3)), "a double argument of another type");
    assert_eq!(call(&pos, 2), (GENERAL_MARK, Some(2)), "another count");
}

fn refused(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let e = t.object_call(&request(addr(half as extern "C" fn(f64) -> f64), None, MAX_DOUBLES + 1));
    let e = e.expect_err("too many doubles").to_string();
    assert!(e.contains("at most 8 doubles and 6 objects"), "{e}");
    let mut r = request(addr(half as extern "C" fn(f64) -> f64), Some(0), 0);
    r.params = vec![Part::Object; MAX_OBJECTS];
    let e = t.object_call(&r).expect_err("too many objects").to_string();
    assert!(e.starts_with("unsupported signature \"double (uint64_t, obj, obj, obj, obj, obj, obj)\""), "{e}");
    let mut r = request(addr(half as extern "C" fn(f64) -> f64), None, 1);
    r.box_double = std::ptr::null();
    assert!(t.object_call(&r).expect_err("a null function").to_string().contains("a null function"));
}

/// The accepted path of a one-double stub, up to the tail call of the boxing function.
#[cfg(target_arch = "x86_64")]
#[test]
fn few_instructions() {
    let t = Trampolines::new(BackendKind::Dynasm, LIMIT);
    let code = t.object_call(&request(addr(half as extern "C" fn(f64) -> f64), None, 1)).expect("made");
    let listing = stub_instructions_within(code.expect("dynasm has the stub"), 256);
    // The shape and the type (6, the count doubled to drop the flag bit), the argument (4), the
    // frame (3), the call and the error check (5), the result (3, the last a jump into the boxing
    // function, where `stub_instructions` stops).
    assert_eq!(listing.len(), 21, "{listing:#?}");
    assert!(listing.iter().any(|i| i.starts_with("lea rax,[rdx+rdx]")), "{listing:#?}");
}

/// An integer of the made-up model: a small one has the size word -1, 0 or 1 and its magnitude
/// in the digit.
#[repr(C)]
struct IntObj {
    refs: u64,
    ty: *const u8,
    size: i64,
    digit: u32,
}

// The requests below describe these layouts by their offsets.
const _: () = assert!(std::mem::offset_of!(Obj, ty) == 8 && std::mem::offset_of!(Obj, value) == 16);
const _: () = assert!(std::mem::offset_of!(IntObj, size) == 16 && std::mem::offset_of!(IntObj, digit) == 24);

static INT: u8 = 0;
/// Digits of 30 bits, as CPython's.
const INTS: IntLayout = IntLayout { exact_type: 0, size_at: 16, digit_at: 24, digit_bits: 30 };
const VOID_OBJECT: usize = 0x5011;

fn ints(digit_bits: u32) -> IntLayout {
    IntLayout { exact_type: &INT as *const u8 as u64, digit_bits, ..INTS }
}

/// `v` as the made-up model holds it: one digit (which must hold `|v|`) and its sign.
fn int(v: i64) -> IntObj {
    let digit = u32::try_from(v.unsigned_abs()).expect("one digit");
    IntObj { refs: 1, ty: &INT, size: v.signum(), digit }
}

thread_local! {
    static SIGNED: Cell<Option<i64>> = const { Cell::new(None) };
    static UNSIGNED: Cell<Option<u64>> = const { Cell::new(None) };
    static BOOL: Cell<Option<i64>> = const { Cell::new(None) };
    static VOID: Cell<Option<usize>> = const { Cell::new(None) };
    static SEEN: Cell<[u64; 6]> = const { Cell::new([0; 6]) };
    static SEEN_DOUBLE: Cell<f64> = const { Cell::new(0.0) };
    static RESULT: Cell<u64> = const { Cell::new(0) };
}

const INT_MARK: usize = 0x1b0;

extern "C" fn box_signed(v: i64) -> *const c_void {
    SIGNED.set(Some(v));
    INT_MARK as *const c_void
}

extern "C" fn box_unsigned(v: u64) -> *const c_void {
    UNSIGNED.set(Some(v));
    INT_MARK as *const c_void
}

extern "C" fn box_bool(v: i64) -> *const c_void {
    BOOL.set(Some(v));
    INT_MARK as *const c_void
}

extern "C" fn box_void(obj: usize) -> *const c_void {
    VOID.set(Some(obj));
    INT_MARK as *const c_void
}

/// Records its six integer-class argument registers, returns `RESULT`.
extern "C" fn record(a: u64, b: u64, c: u64, d: u64, e: u64, f: u64) -> u64 {
    SEEN.set([a, b, c, d, e, f]);
    RESULT.get()
}

/// `record` with a double between its second and third words (still the same registers).
extern "C" fn record_mixed(a: u64, b: u64, x: f64, c: u64, d: u64, e: u64, f: u64) -> u64 {
    SEEN_DOUBLE.set(x);
    record(a, b, c, d, e, f)
}

/// `record`, returning its first argument.
extern "C" fn echo(a: u64, b: u64, c: u64, d: u64, e: u64, f: u64) -> u64 {
    record(a, b, c, d, e, f);
    a
}

extern "C" fn nothing(first: u64) {
    FIRST.set(first);
}

fn int_request(params: Vec<Part>, ret: Part, digit_bits: u32) -> ObjectCall {
    let mut r = request(addr(record as extern "C" fn(u64, u64, u64, u64, u64, u64) -> u64), None, 0);
    (r.params, r.ret, r.ints) = (params, ret, Some(ints(digit_bits)));
    r
}

/// What a call did: `Ok(the stub's result)` (the boxing functions' records then say more) or
/// `Err(the general function's nargsf)`; `args` are objects of either model.
fn run(f: Vectorcall, args: &[*const c_void], nargsf: usize) -> Result<usize, usize> {
    for cell in [&SIGNED, &BOOL] {
        cell.set(None);
    }
    UNSIGNED.set(None);
    VOID.set(None);
    GENERAL.set(None);
    SEEN.set([0; 6]);
    // SAFETY: the stub's convention; `args` holds live objects of the test's models, each at
    // least as large as the stub reads for its type (checked first).
    let r = unsafe { f(0x1234, args.as_ptr().cast(), nargsf, 0) } as usize;
    match (r, GENERAL.get()) {
        (GENERAL_MARK, Some((c, a, n, k))) => {
            assert_eq!((c, a, k), (0x1234, args.as_ptr() as usize, 0), "the general function's arguments untouched");
            Err(n)
        }
        (r, None) => Ok(r),
        other => panic!("unexpected {other:?}"),
    }
}

fn stub(t: &Trampolines, r: &ObjectCall) -> Option<Vectorcall> {
    let code = t.object_call(r).expect("made")?;
    // SAFETY: made for this convention.
    Some(unsafe { as_fn(code) })
}

fn p(obj: &IntObj) -> *const c_void {
    (obj as *const IntObj).cast()
}

const WIDTHS: [(u8, bool); 8] =
    [(8, true), (8, false), (16, true), (16, false), (32, true), (32, false), (64, true), (64, false)];

/// The range of a C integer of `bits`, `signed` or not, as `i128`.
fn range(bits: u8, signed: bool) -> (i128, i128) {
    if signed {
        (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
    } else {
        (0, (1i128 << bits) - 1)
    }
}

/// One parameter of each width: the values of small integers in range reach the target widened
/// to 64 bits; out of range, not small (a second digit), of another type: the general function.
fn int_arguments(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    for (bits, signed) in WIDTHS {
        let mut r = int_request(vec![Part::Int { bits, signed }], Part::Int { bits: 64, signed: true }, 30);
        r.target = addr(echo as extern "C" fn(u64, u64, u64, u64, u64, u64) -> u64);
        let Some(f) = stub(&t, &r) else {
            assert_eq!(kind, BackendKind::Libffi, "only libffi has no stub");
            continue;
        };
        let (min, max) = range(bits, signed);
        let small = (1i128 << 30) - 1;
        for v in
            [0, 1, -1, 5, -5, 127, -128, 128, -129, 255, 256, 32767, -32768, 32768, -32769, 65535, 65536, small, -small]
        {
            let o = int(v as i64);
            let expected = if (min..=max).contains(&v) { Ok(INT_MARK) } else { Err(1) };
            assert_eq!(run(f, &[p(&o)], 1), expected, "{v} for int{bits} signed {signed}");
            if expected.is_ok() {
                assert_eq!(SEEN.get()[0], v as i64 as u64, "{v} widened for int{bits} signed {signed}");
                assert_eq!(SIGNED.get(), Some(v as i64), "the result boxed");
            }
        }
        // A zero's digit is not read.
        let zero = IntObj { refs: 1, ty: &INT, size: 0, digit: 77 };
        assert_eq!(run(f, &[p(&zero)], 1), Ok(INT_MARK));
        assert_eq!(SEEN.get()[0], 0, "zero, whatever its digit");
        // Larger than one digit, or another type.
        for (size, ty) in [(2, &INT), (-2, &INT), (i64::MIN, &INT), (i64::MAX, &INT), (1, &OTHER), (0, &FLOAT)] {
            let o = IntObj { refs: 1, ty, size, digit: 1 };
            assert_eq!(run(f, &[p(&o)], 1), Err(1), "size {size} of int{bits} signed {signed}");
        }
        let f1 = float(1.0);
        assert_eq!(run(f, &[(&f1 as *const Obj).cast()], 1), Err(1), "a double for an integer");
        assert_eq!(run(f, &[p(&int(1)), p(&int(1))], 2), Err(2), "another count");
    }
}

/// With digits of 32 bits, 32-bit types check their range too: the boundaries and one past them.
fn narrow_ranges(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    for (bits, signed) in WIDTHS {
        let r = int_request(vec![Part::Int { bits, signed }], Part::Int { bits: 64, signed: false }, 32);
        let Some(f) = stub(&t, &r) else {
            assert_eq!(kind, BackendKind::Libffi, "only libffi has no stub");
            continue;
        };
        let (min, max) = range(bits, signed);
        let limit = i128::from(u32::MAX);
        for v in [min, max, min - 1, max + 1, -limit, limit, 0] {
            if !(-limit..=limit).contains(&v) {
                continue;
            }
            let o = IntObj { refs: 1, ty: &INT, size: v.signum() as i64, digit: v.unsigned_abs() as u32 };
            let fits = (min..=max).contains(&v);
            assert_eq!(run(f, &[p(&o)], 1), if fits { Ok(INT_MARK) } else { Err(1) }, "{v}: int{bits} {signed}");
            if fits {
                assert_eq!(SEEN.get()[0], v as i64 as u64, "{v} widened: int{bits} {signed}");
            }
        }
    }
}

/// Integers, a `bool`, an object and a double together, after a first word: each in its register.
fn mixed(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    let target = addr(record_mixed as extern "C" fn(u64, u64, f64, u64, u64, u64, u64) -> u64);
    let mut r = request(target, Some(7), 0);
    r.params = vec![
        Part::Int { bits: 32, signed: true },
        Part::Double,
        Part::Bool,
        Part::Object,
        Part::Int { bits: 16, signed: false },
    ];
    (r.ret, r.ints) = (Part::Bool, Some(ints(30)));
    let (no, yes) = (Obj { refs: 1, ty: &OTHER, value: 0.0 }, Obj { refs: 1, ty: &OTHER, value: 1.0 });
    let (pno, pyes) = (&no as *const Obj, &yes as *const Obj);
    r.bools = Some([pno as u64, pyes as u64]);
    let Some(f) = stub(&t, &r) else {
        assert_eq!(kind, BackendKind::Libffi, "only libffi has no stub");
        return;
    };
    let (a, x, u) = (int(-300), float(2.5), int(65535));
    let args = |b: *const Obj| [p(&a), (&x as *const Obj).cast(), b.cast(), p(&u), p(&u)];
    RESULT.set(0xffff_ff01);
    assert_eq!(run(f, &args(pyes), 5 | FLAG), Ok(INT_MARK));
    let pu = p(&u) as u64;
    let seen = SEEN.get();
    assert_eq!(seen[..5], [7, -300i64 as u64, 1, pu + 1, 65535], "first, int, true, object, unsigned");
    assert_eq!(SEEN_DOUBLE.get(), 2.5);
    assert_eq!(BOOL.get(), Some(1), "a bool result: its low byte");
    RESULT.set(0xffff_ff00);
    assert_eq!(run(f, &args(pno), 5), Ok(INT_MARK));
    assert_eq!(SEEN.get()[2], 0, "false");
    assert_eq!(BOOL.get(), Some(0), "false: upper bits ignored");
    // Neither bool object: an integer 1, or another object of the bools' type.
    let one = int(1);
    let other = Obj { refs: 1, ty: &OTHER, value: 1.0 };
    assert_eq!(run(f, &args((&one as *const IntObj).cast()), 5), Err(5), "an integer for a bool");
    assert_eq!(run(f, &args(&other), 5), Err(5), "another object for a bool");
    let big = int(65536);
    let over = [p(&a), (&x as *const Obj).cast(), pyes.cast(), p(&u), p(&big)];
    assert_eq!(run(f, &over, 5), Err(5), "past uint16_t's range");
    FAIL.set(true);
    assert_eq!(run(f, &args(pyes), 5), Ok(0), "a failed call");
    assert_eq!(BOOL.get(), None, "boxes nothing");
    FAIL.set(false);

    // Without a first word the array's register, rsi, is the second argument's.
    let three = vec![Part::Int { bits: 8, signed: true }, Part::Bool, Part::Int { bits: 64, signed: false }];
    let mut r = int_request(three, Part::Void, 30);
    r.bools = Some([pno as u64, pyes as u64]);
    let f = stub(&t, &r).expect("dynasm");
    let (a, b) = (int(-128), int(1 << 29));
    assert_eq!(run(f, &[p(&a), pyes.cast(), p(&b)], 3), Ok(INT_MARK));
    assert_eq!(SEEN.get()[..3], [-128i64 as u64, 1, 1 << 29]);
}

/// Results: widened from their width (whatever the target left above it) and boxed signed or
/// not; `void`: `box_void(void_object)`; a failed call: null, nothing boxed.
fn results(kind: BackendKind) {
    let t = Trampolines::new(kind, LIMIT);
    for (bits, signed) in WIDTHS {
        let r = int_request(vec![], Part::Int { bits, signed }, 30);
        let Some(f) = stub(&t, &r) else {
            assert_eq!(kind, BackendKind::Libffi, "only libffi has no stub");
            continue;
        };
        let (min, max) = range(bits, signed);
        for v in [min, max, 0, 1] {
            let dirt = if bits == 64 { 0 } else { 0xdead_beef_dead_beef_u64 << bits };
            RESULT.set(v as u64 & (u64::MAX >> (64 - bits)) | dirt);
            assert_eq!(run(f, &[], 0), Ok(INT_MARK));
            if signed {
                assert_eq!((SIGNED.get(), UNSIGNED.get()), (Some(v as i64), None), "int{bits}");
            } else {
                assert_eq!((SIGNED.get(), UNSIGNED.get()), (None, Some(v as u64)), "uint{bits}");
            }
        }
        FAIL.set(true);
        assert_eq!(run(f, &[], 0), Ok(0), "a failed call");
        assert_eq!((SIGNED.get(), UNSIGNED.get()), (None, None), "boxes nothing");
        FAIL.set(false);
    }
    let mut r = request(addr(nothing as extern "C" fn(u64)), Some(9), 0);
    r.ret = Part::Void;
    let Some(f) = stub(&t, &r) else { return };
    FIRST.set(0);
    assert_eq!(run(f, &[], 0), Ok(INT_MARK));
    assert_eq!((FIRST.get(), VOID.get()), (9, Some(VOID_OBJECT)), "void: box_void(void_object)");
    FAIL.set(true);
    assert_eq!(run(f, &[], 0), Ok(0), "a failed void call");
    assert_eq!(VOID.get(), None);
    FAIL.set(false);
    let i = int(1);
    assert_eq!(run(f, &[p(&i)], 1), Err(1), "another count");
}

/// Requests the stubs cannot serve.
#[test]
fn int_requests_refused() {
    let t = Trampolines::new(BackendKind::Dynasm, LIMIT);
    let refused = |r: ObjectCall, why: &str| {
        let e = t.object_call(&r).expect_err(why).to_string();
        assert!(e.contains(why), "{e}");
    };
    let mut r = int_request(vec![Part::Int { bits: 32, signed: true }], Part::Void, 30);
    r.ints = None;
    refused(r, "need an integer layout");
    refused(int_request(vec![Part::Int { bits: 12, signed: true }], Part::Void, 30), "int12_t is not an integer");
    refused(int_request(vec![], Part::Int { bits: 0, signed: false }, 30), "uint0_t is not an integer");
    refused(int_request(vec![Part::Int { bits: 32, signed: true }], Part::Void, 33), "digits of 1 to 32 bits");
    refused(int_request(vec![Part::Bool], Part::Void, 30), "need the false and true objects");
    refused(int_request(vec![Part::Void], Part::Void, 30), "void is a result only");
    let mut r = int_request(vec![], Part::Int { bits: 8, signed: false }, 30);
    r.box_unsigned = std::ptr::null();
    refused(r, "a null function");
    let r = int_request(vec![Part::Int { bits: 64, signed: true }; MAX_OBJECTS + 1], Part::Void, 30);
    refused(r, "\"void (int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t)\"");
}

/// The accepted path of `int64_t (int64_t)`: the shape (5), the integer's type and size (8), the
/// frame (3), its value (3), the call and the error check (5), the result (3, the last a jump
/// into the boxing function).
#[cfg(target_arch = "x86_64")]
#[test]
fn few_instructions_for_an_integer() {
    let t = Trampolines::new(BackendKind::Dynasm, LIMIT);
    let r = int_request(vec![Part::Int { bits: 64, signed: true }], Part::Int { bits: 64, signed: true }, 30);
    let listing = stub_instructions_within(t.object_call(&r).expect("made").expect("dynasm"), 256);
    assert_eq!(listing.len(), 27, "{listing:#?}");
    assert!(listing.iter().any(|i| i.starts_with("imul")), "{listing:#?}");
}
