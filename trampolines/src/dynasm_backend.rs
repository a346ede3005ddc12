//! The dynasm backend: x86_64 System V stubs assembled per trampoline.
//!
//! An intercepting trampoline is an *entry stub* that saves the argument registers the signature
//! uses into a [`Frame`] on its own stack, together with a pointer to the caller's stack
//! arguments, and calls [`enter`] (Rust) with the frame and its [`Hook`]. `enter` runs the handler
//! over a [`Call`] that reads and writes the frame. `Call::invoke` runs the signature's *invoker
//! stub*, which loads the argument registers from the frame, copies the stack arguments below
//! its own frame, calls the target and stores rax or xmm0 back into the frame. Back in the entry
//! stub, the result is loaded from the frame and returned.
//!
//! `swap_arg0` and `count` are tail-calling stubs of three and four instructions.
//!
//! All stubs are position independent (absolute addresses through `movabs`, no relative jumps or
//! calls), so they are assembled at address 0 and copied into code memory. They keep a frame-pointer chain
//! for debuggers and profilers, but have no unwind information: nothing may unwind through them
//! (a panicking handler aborts, see [`crate::Handler`]).

use crate::abi::sysv::{self, Loc, GPRS, XMMS};
use crate::abi::{widen, Shape, Value, MAX_ARGS};
use crate::bind::Bind;
use crate::code_memory::CodeMemory;
use crate::drop_first::DropFirst;
use crate::object_call::{ObjectCall, Part};
use crate::prepend::Prepend;
use crate::{Adjust, Backend, Call, Error, Handler, Hook, Invoke, Mark, Signature};
use dynasmrt::x64::{Rq, Rx, X64Relocation};
use dynasmrt::{dynasm, DynasmApi, DynasmLabelApi, VecAssembler};
use std::collections::HashMap;
use std::ffi::c_void;
use std::mem::{offset_of, size_of};
use std::sync::atomic::AtomicU64;

/// The registers and result of one intercepted call, kept by its entry stub on its stack.
#[repr(C)]
struct Frame {
    /// rdi, rsi, rdx, rcx, r8, r9 (only those the signature uses are saved).
    gpr: [u64; GPRS],
    /// Low 64 bits of xmm0..xmm7 (likewise).
    xmm: [u64; XMMS],
    /// The caller's stack arguments, slot 0 first (set only if there are any).
    stack: *mut u64,
    /// rax or the low 64 bits of xmm0.
    ret: u64,
}

const GPR: i32 = offset_of!(Frame, gpr) as i32;
const XMM: i32 = offset_of!(Frame, xmm) as i32;
const STACK: i32 = offset_of!(Frame, stack) as i32;
const RET: i32 = offset_of!(Frame, ret) as i32;
const FRAME_SIZE: i32 = size_of::<Frame>() as i32;
// The entry stub keeps rsp 16-byte aligned at its call by reserving a multiple of 16.
const _: () = assert!(FRAME_SIZE % 16 == 0);

/// The integer argument registers, in passing order.
const GPR_REGS: [Rq; GPRS] = [Rq::RDI, Rq::RSI, Rq::RDX, Rq::RCX, Rq::R8, Rq::R9];
/// The floating-point argument registers, in passing order.
const XMM_REGS: [Rx; XMMS] = [Rx::XMM0, Rx::XMM1, Rx::XMM2, Rx::XMM3, Rx::XMM4, Rx::XMM5, Rx::XMM6, Rx::XMM7];

/// An invoker stub: calls `target` with the arguments in `frame`, stores its result there.
type Invoker = unsafe extern "C" fn(frame: *mut Frame, target: *const c_void);

/// A register invoker stub: calls `target` with the words at `words` (one per parameter, in
/// order) loaded straight into their registers, and returns its result's bits (`xmm0`'s for a
/// floating-point result). Only for shapes without stack arguments.
pub type RegisterInvoker = unsafe extern "C" fn(words: *const u64, target: *const c_void) -> u64;

/// What every trampoline of one shape of signature shares.
struct Plan {
    /// Each parameter's location and representation.
    args: Box<[(Loc, Value)]>,
    stack_slots: usize,
    ret: Option<Value>,
    invoker: Invoker,
    /// For shapes whose arguments all go in registers: what `Caller::call` uses (no frame to fill).
    register_invoker: Option<RegisterInvoker>,
}

pub struct Dynasm {
    code: CodeMemory,
    /// Boxed: entry stubs and hooks point at them.
    plans: HashMap<Shape, Box<Plan>>,
    /// Boxed, because entry stubs point at them: they must not move when the Vec grows.
    #[allow(clippy::vec_box)]
    hooks: Vec<Box<Hook<Plan>>>,
}

// SAFETY: the raw pointers are to code memory and boxes this value owns, or to the callers'
// `data`, which only handlers use; nothing here is tied to a thread.
unsafe impl Send for Dynasm {}

impl Dynasm {
    pub fn new(limit: usize) -> Dynasm {
        Dynasm { code: CodeMemory::new(limit), plans: HashMap::new(), hooks: Vec::new() }
    }

    /// The shape's plan, made with its invoker stub on first use.
    fn plan(&mut self, shape: &Shape) -> Result<*const Plan, Error> {
        if let Some(plan) = self.plans.get(shape) {
            return Ok(&**plan);
        }
        let locs = sysv::locations(&shape.args);
        let stack_slots = sysv::stack_slots(&locs);
        let args: Box<[(Loc, Value)]> = locs.into_iter().zip(shape.args.iter().copied()).collect();
        let code = self.code.add(&invoker_stub(&args, stack_slots, shape.ret))?;
        // SAFETY: the invoker stub follows the C calling convention with the `Invoker` signature.
        let invoker = unsafe { std::mem::transmute::<*const c_void, Invoker>(code) };
        let register_invoker = if stack_slots == 0 {
            let code = self.code.add(&register_invoker_stub(&args, shape.ret))?;
            // SAFETY: the stub follows the C calling convention with the `RegisterInvoker` signature.
            Some(unsafe { std::mem::transmute::<*const c_void, RegisterInvoker>(code) })
        } else {
            None
        };
        let plan = Box::new(Plan { args, stack_slots, ret: shape.ret, invoker, register_invoker });
        Ok(&**self.plans.entry(shape.clone()).or_insert(plan))
    }
}

impl Backend for Dynasm {
    fn intercept(
        &mut self,
        _: &Signature,
        shape: &Shape,
        handler: Handler,
        data: *const c_void,
    ) -> Result<*const c_void, Error> {
        let plan = self.plan(shape)?;
        let hook = Box::new(Hook { plan, handler, data });
        // SAFETY: plans live as long as `self`.
        let code = self.code.add(&entry_stub(unsafe { &*plan }, &*hook))?;
        self.hooks.push(hook);
        Ok(code)
    }

    fn swap_arg0(
        &mut self,
        _: &Signature,
        _: &Shape,
        target: *const c_void,
        value: u64,
    ) -> Result<*const c_void, Error> {
        // Argument 0 is integer class, so it is in rdi.
        let mut ops = assembler();
        dynasm!(ops
            ; mov rdi, QWORD value as i64
            ; mov r11, QWORD target as i64
            ; jmp r11
        );
        self.code.add(&finish(ops))
    }

    fn swap_arg0_and_mark_stub(
        &mut self,
        _: &Signature,
        shape: &Shape,
        target: *const c_void,
        value: u64,
        mark: Mark,
    ) -> Result<Option<*const c_void>, Error> {
        if sysv::stack_slots(&sysv::locations(&shape.args)) > 0 {
            return Ok(None); // the pushed rbx would move the stack arguments: not this stub
        }
        // rbx is callee-saved: it keeps argument 0 across the call, and pushing it aligns the stack
        // for the call (8 mod 16 at entry). The result (rax or xmm0) is left as the target set it.
        let mut ops = assembler();
        dynasm!(ops
            ; push rbx
            ; mov rbx, rdi
            ; mov rdi, QWORD value as i64
            ; mov r11, QWORD target as i64
            ; call r11
            ; mov rcx, [rbx + mark.via]
            ; mov BYTE [rcx + mark.at], mark.byte as i8
            ; pop rbx
            ; ret
        );
        self.code.add(&finish(ops)).map(Some)
    }

    fn count(
        &mut self,
        _: &Signature,
        _: &Shape,
        target: *const c_void,
        counter: *const AtomicU64,
    ) -> Result<*const c_void, Error> {
        // r11 is neither an argument register nor callee-saved: free to clobber before a call.
        let mut ops = assembler();
        dynasm!(ops
            ; mov r11, QWORD counter as i64
            ; lock inc QWORD [r11]
            ; mov r11, QWORD target as i64
            ; jmp r11
        );
        self.code.add(&finish(ops))
    }

    fn caller(&mut self, _: &Signature, shape: &Shape) -> Result<Box<dyn Invoke>, Error> {
        Ok(Box::new(PlanCall(self.plan(shape)?)))
    }

    fn prepend_stub(&mut self, shape: &Shape, request: &Prepend) -> Result<Option<*const c_void>, Error> {
        let outer = sysv::locations(&shape.args);
        if sysv::stack_slots(&outer) > 0 || sysv::stack_slots(&sysv::locations(&request.inner.args)) > 0 {
            return Ok(None); // the shift would move an argument to the stack: the generic stub
        }
        self.code.add(&prepend_stub(&gpr_adjustments(&outer, &request.args), request)).map(Some)
    }

    fn drop_first_stub(&mut self, shape: &Shape, request: &DropFirst) -> Result<Option<*const c_void>, Error> {
        if sysv::stack_slots(&sysv::locations(&shape.args)) > 0 {
            return Ok(None); // an argument on the stack would have to move: the generic stub
        }
        // The target's integer-class arguments: each comes in one register up (parameter 0 was one).
        let gprs = gpr_adjustments(&sysv::locations(&request.inner.args), &request.args);
        self.code.add(&drop_first_stub(&gprs, request)).map(Some)
    }

    fn bind_stub(&mut self, request: &Bind) -> Result<Option<*const c_void>, Error> {
        let inner = sysv::locations(&request.inner.args);
        if sysv::stack_slots(&inner) > 0 {
            return Ok(None); // a bound word would go on the stack: the generic stub
        }
        let first = inner.len() - request.bound.len();
        let gprs: Vec<(usize, u64)> = inner[first..]
            .iter()
            .zip(request.bound.iter())
            .filter_map(|(loc, &word)| match *loc {
                Loc::Gpr(k) => Some((k, word)),
                _ => None, // `Bind::new` refused floating-point bound parameters
            })
            .collect();
        self.code.add(&bind_stub(&gprs, request)).map(Some)
    }

    fn object_call_stub(&mut self, request: &ObjectCall) -> Result<Option<*const c_void>, Error> {
        self.code.add(&object_call_stub(request)).map(Some)
    }

    fn code_bytes(&self) -> usize {
        self.code.taken()
    }
}

/// A [`crate::Caller`]'s calls: the plan's invoker stub over a frame filled from the words.
struct PlanCall(*const Plan);

// SAFETY: a plan is immutable once made and lives as long as the backend, which outlives every
// caller made from it (`Caller` borrows the factory).
unsafe impl Send for PlanCall {}
// SAFETY: as for Send: nothing is written through the pointer.
unsafe impl Sync for PlanCall {}

impl Invoke for PlanCall {
    fn register_invoker(&self) -> Option<RegisterInvoker> {
        // SAFETY: see the Send impl: the plan outlives the caller.
        unsafe { (*self.0).register_invoker }
    }

    unsafe fn call(&self, target: *const c_void, args: &[u64]) -> u64 {
        // SAFETY: see the Send impl: the plan outlives this call.
        let plan = unsafe { &*self.0 };
        let raw = if let Some(register_invoker) = plan.register_invoker {
            // SAFETY: the stub loads one word per parameter from `args` (as long as the plan's
            // parameters, `Caller::call` checked) into its register; `target` has the plan's
            // signature, as the caller promised.
            unsafe { register_invoker(args.as_ptr(), target) }
        } else {
            // SAFETY: as for this function.
            unsafe { call_through_frame(plan, target, args) }
        };
        match plan.ret {
            // The callee leaves the upper bits of a narrow integer undefined: define them.
            Some(Value::Int { bytes, signed }) => widen(raw, bytes, signed),
            Some(v) => value_bits(v, raw),
            None => 0,
        }
    }
}

/// Calls `target` through the plan's frame invoker (shapes with stack arguments); its raw result.
///
/// # Safety
/// As `Invoke::call`, with `plan` the caller's plan.
unsafe fn call_through_frame(plan: &Plan, target: *const c_void, args: &[u64]) -> u64 {
    // The stack arguments, slot 0 first, where the invoker copies them from: on the stack for
    // the usual signatures (then a call allocates nothing and clears few bytes).
    let mut small = [0u64; 8];
    let mut large = Vec::new();
    let stack: &mut [u64] = if plan.stack_slots <= small.len() {
        &mut small
    } else {
        large.resize(MAX_ARGS, 0);
        &mut large
    };
    let mut frame = Frame { gpr: [0; GPRS], xmm: [0; XMMS], stack: stack.as_mut_ptr(), ret: 0 };
    for (&(loc, _), &word) in plan.args.iter().zip(args) {
        match loc {
            Loc::Gpr(k) => frame.gpr[k] = word,
            Loc::Xmm(k) => frame.xmm[k] = word,
            Loc::Stack(s) => stack[s] = word,
        }
    }
    // SAFETY: the invoker loads exactly the locations filled above (and `stack_slots` words
    // of `stack`); `target` has the plan's signature, as the caller promised.
    unsafe { (plan.invoker)(&mut frame, target) };
    frame.ret
}

fn assembler() -> VecAssembler<X64Relocation> {
    VecAssembler::new(0)
}

fn finish(ops: VecAssembler<X64Relocation>) -> Vec<u8> {
    ops.finalize().expect("these stubs use no labels, so there is nothing to resolve that could fail")
}

/// The entry of an intercepting trampoline for `plan`, calling [`enter`] with `hook`.
fn entry_stub(plan: &Plan, hook: *const Hook<Plan>) -> Vec<u8> {
    let mut ops = assembler();
    // Entered with rsp = 8 (mod 16); after the push and FRAME_SIZE, 0 again for the call.
    dynasm!(ops
        ; push rbp
        ; mov rbp, rsp
        ; sub rsp, FRAME_SIZE
    );
    for &(loc, _) in plan.args.iter() {
        match loc {
            Loc::Gpr(k) => dynasm!(ops ; mov QWORD [rsp + GPR + 8 * k as i32], Rq(GPR_REGS[k])),
            Loc::Xmm(k) => dynasm!(ops ; movq QWORD [rsp + XMM + 8 * k as i32], Rx(XMM_REGS[k])),
            Loc::Stack(_) => {}
        }
    }
    if plan.stack_slots > 0 {
        dynasm!(ops
            ; lea rax, [rbp + 16]
            ; mov [rsp + STACK], rax
        );
    }
    dynasm!(ops
        ; mov rdi, rsp
        ; mov rsi, QWORD hook as i64
        ; mov rax, QWORD enter as *const () as i64
        ; call rax
    );
    match plan.ret {
        Some(v) if v.is_float() => dynasm!(ops ; movq xmm0, QWORD [rsp + RET]),
        Some(_) => dynasm!(ops ; mov rax, [rsp + RET]),
        None => {}
    }
    dynasm!(ops
        ; leave
        ; ret
    );
    finish(ops)
}

/// A prepending stub: `gprs` are the stub's integer-class arguments (register number, adjustment),
/// all in registers even after the shift; floating-point arguments stay where they are.
fn prepend_stub(gprs: &[(usize, Adjust)], request: &Prepend) -> Vec<u8> {
    let mut ops = assembler();
    // Last first, so that no register is overwritten before it is moved.
    for &(k, _) in gprs.iter().rev() {
        dynasm!(ops ; mov Rq(GPR_REGS[k + 1]), Rq(GPR_REGS[k]));
    }
    for &(k, a) in gprs {
        adjust(&mut ops, GPR_REGS[k + 1], a);
    }
    dynasm!(ops ; mov rdi, QWORD request.first as i64);
    to_target(ops, request.target, request.ret)
}

/// The integer-register arguments among `locations` with their adjustments (register number,
/// adjustment), in order: what a prepending or dropping stub moves.
fn gpr_adjustments(locations: &[Loc], adjustments: &[Adjust]) -> Vec<(usize, Adjust)> {
    locations
        .iter()
        .zip(adjustments)
        .filter_map(|(loc, &a)| match *loc {
            Loc::Gpr(k) => Some((k, a)),
            _ => None,
        })
        .collect()
}

/// How a prepending or dropping stub ends, its arguments in place: a jump to `target` when the
/// result is kept, else a call and the result's adjustment; then `target`'s address, which the
/// jump or call reads RIP-relative (the stub stays position independent, and it is one
/// instruction fewer per call than loading it into a register first).
fn to_target(mut ops: VecAssembler<X64Relocation>, target: *const c_void, ret: Adjust) -> Vec<u8> {
    if ret == Adjust::Keep {
        dynasm!(ops ; jmp QWORD [->target]);
    } else {
        // Entered with rsp = 8 (mod 16): realign for the call.
        dynasm!(ops
            ; sub rsp, 8
            ; call QWORD [->target]
        );
        adjust(&mut ops, Rq::RAX, ret);
        dynasm!(ops
            ; add rsp, 8
            ; ret
        );
    }
    dynasm!(ops
        ; ->target:
        ; .u64 target as u64
    );
    ops.finalize().expect("the stub's one label is defined")
}

/// A dropping stub: `gprs` are the target's integer-class arguments (register number, adjustment),
/// all in registers, each passed to the stub one register up.
fn drop_first_stub(gprs: &[(usize, Adjust)], request: &DropFirst) -> Vec<u8> {
    let mut ops = assembler();
    // First first: register k is free once k - 1 took its value (rdi, parameter 0, is dropped).
    for &(k, a) in gprs {
        dynasm!(ops ; mov Rq(GPR_REGS[k]), Rq(GPR_REGS[k + 1]));
        adjust(&mut ops, GPR_REGS[k], a);
    }
    to_target(ops, request.target, request.ret)
}

/// A binding stub: `gprs` are the registers of the bound words (register number, word), which no
/// argument of the caller's occupies; the target then finds every argument in place.
fn bind_stub(gprs: &[(usize, u64)], request: &Bind) -> Vec<u8> {
    let mut ops = assembler();
    for &(k, word) in gprs {
        dynasm!(ops ; mov Rq(GPR_REGS[k]), QWORD word as i64);
    }
    to_target(ops, request.target, Adjust::Keep)
}

/// Applies `a` to `reg` in place (r11 is scratch).
fn adjust(ops: &mut VecAssembler<X64Relocation>, reg: Rq, a: Adjust) {
    match a {
        Adjust::Keep => {}
        // cmp sets CF exactly when reg is 0; sbb then adds 1 - CF.
        Adjust::AddUnlessZero(1) => dynasm!(ops ; cmp Rq(reg), 1 ; sbb Rq(reg), -1),
        // sub sets CF exactly when reg was 0 (it wraps to -1); adc adds it back.
        Adjust::AddUnlessZero(-1) => dynasm!(ops ; sub Rq(reg), 1 ; adc Rq(reg), 0),
        Adjust::AddUnlessZero(d) => dynasm!(ops
            ; lea r11, [Rq(reg) + d]
            ; test Rq(reg), Rq(reg)
            ; cmovnz Rq(reg), r11
        ),
    }
}

/// The object-call stub of `request` (see `object_call`). Entered with the vectorcall
/// convention's rdi, rsi, rdx, rcx, which it leaves untouched until it has accepted the call (rax,
/// r8 to r11 and the argument xmm registers are scratch), so that a refused call tail-calls the
/// general function with its arguments in place. Addresses are read RIP-relative from after the
/// code.
fn object_call_stub(request: &ObjectCall) -> Vec<u8> {
    let mut ops = assembler();
    dynasm!(ops
        ; test rcx, rcx
        ; jnz ->general
    );
    let count = request.params.len() as i32;
    if request.count_mask == u64::MAX >> 1 {
        // Only the top bit is a flag (CPython's): doubling drops it.
        dynasm!(ops
            ; lea rax, [rdx + rdx]
            ; cmp rax, 2 * count
        );
    } else {
        dynasm!(ops
            ; mov rax, QWORD request.count_mask as i64
            ; and rax, rdx
            ; cmp rax, count
        );
    }
    dynasm!(ops ; jne ->general);
    // The checks (and the doubles' loads) first, while the caller's arguments are in place: r11
    // holds the double type, r10 the integer type, once loaded.
    // `check` refused integer parameters without a layout.
    let ints = request.ints.unwrap_or_default();
    let (mut doubles, mut int_type) = (0, false);
    for (i, part) in request.params.iter().enumerate() {
        let at = 8 * i as i32;
        match *part {
            Part::Double => {
                if doubles == 0 {
                    dynasm!(ops ; mov r11, QWORD request.exact_type as i64);
                }
                dynasm!(ops
                    ; mov rax, [rsi + at]
                    ; cmp [rax + request.type_at], r11
                    ; jne ->general
                    ; movq Rx(XMM_REGS[doubles]), QWORD [rax + request.value_at]
                );
                doubles += 1;
            }
            Part::Int { bits, signed } => {
                if !int_type {
                    dynasm!(ops ; mov r10, QWORD ints.exact_type as i64);
                    int_type = true;
                }
                dynasm!(ops
                    ; mov rax, [rsi + at]
                    ; cmp [rax + request.type_at], r10
                    ; jne ->general
                );
                if signed {
                    // size + 1 in 0..=2, compared unsigned.
                    dynasm!(ops
                        ; mov r8, [rax + ints.size_at]
                        ; add r8, 1
                        ; cmp r8, 2
                        ; ja ->general
                    );
                } else {
                    // 0 or 1: -1 (a negative value) is above 1 unsigned.
                    dynasm!(ops
                        ; cmp QWORD [rax + ints.size_at], 1
                        ; ja ->general
                    );
                }
                // The digit's bits, and a sign bit for a signed type: a narrower type checks that
                // the value survives its own widening.
                if ints.digit_bits + u32::from(signed) > u32::from(bits) {
                    dynasm!(ops
                        ; mov r8d, DWORD [rax + ints.digit_at]
                        ; imul r8, QWORD [rax + ints.size_at]
                    );
                    match (bits, signed) {
                        (8, true) => dynasm!(ops ; movsx r9, r8b),
                        (8, false) => dynasm!(ops ; movzx r9d, r8b),
                        (16, true) => dynasm!(ops ; movsx r9, r8w),
                        (16, false) => dynasm!(ops ; movzx r9d, r8w),
                        (32, true) => dynasm!(ops ; movsxd r9, r8d),
                        _ => dynasm!(ops ; mov r9d, r8d),
                    }
                    dynasm!(ops
                        ; cmp r9, r8
                        ; jne ->general
                    );
                }
            }
            Part::Bool => dynasm!(ops
                ; mov rax, [rsi + at]
                ; cmp rax, QWORD [->true_object]
                ; je >bool_ok
                ; cmp rax, QWORD [->false_object]
                ; jne ->general
                ; bool_ok:
            ),
            Part::Object | Part::Void => {}
        }
    }
    // Accepted. Entered with rsp = 8 (mod 16): after the push and two slots (the result, the
    // callable), 0 for the calls.
    dynasm!(ops
        ; push rbp
        ; mov rbp, rsp
        ; sub rsp, 16
    );
    if request.ret == Part::Object {
        dynasm!(ops ; mov [rsp + 8], rdi);
    }
    // The integer-class arguments, in order after `first`. The argument array's register, rsi,
    // is register 1: once an argument takes it, the array is read through a copy in r11.
    let words: Vec<_> = request.params.iter().enumerate().filter(|(_, p)| !matches!(p, Part::Double)).collect();
    let first = usize::from(request.first.is_some());
    for (k, &(i, part)) in words.iter().enumerate() {
        let (reg, at) = (GPR_REGS[first + k], 8 * i as i32);
        let array = if first + k <= 1 { Rq::RSI } else { Rq::R11 };
        if reg == Rq::RSI && k + 1 < words.len() {
            dynasm!(ops ; mov r11, rsi);
        }
        match part {
            Part::Object => dynasm!(ops
                ; mov Rq(reg), [Rq(array) + at]
                ; add Rq(reg), request.object_add
            ),
            // Checked above: the size word is -1, 0 or 1, whatever the digit of a 0.
            Part::Int { .. } => dynasm!(ops
                ; mov rax, [Rq(array) + at]
                ; mov Rd(reg), DWORD [rax + ints.digit_at]
                ; imul Rq(reg), QWORD [rax + ints.size_at]
            ),
            Part::Bool => dynasm!(ops
                ; mov rax, [Rq(array) + at]
                ; cmp rax, QWORD [->true_object]
                ; sete al
                ; movzx Rd(reg), al
            ),
            Part::Double | Part::Void => unreachable!("filtered out, or refused by `check`"),
        }
    }
    if let Some(word) = request.first {
        dynasm!(ops ; mov rdi, QWORD word as i64);
    }
    dynasm!(ops ; call QWORD [->target]);
    match request.ret {
        Part::Double => dynasm!(ops
            ; movq QWORD [rsp], xmm0
            ; call QWORD [->failed]
            ; test rax, rax
            ; jnz ->fail
            ; movq xmm0, QWORD [rsp]
            ; leave
            ; jmp QWORD [->box_result]
        ),
        Part::Int { .. } | Part::Bool => {
            dynasm!(ops
                ; mov [rsp], rax
                ; call QWORD [->failed]
                ; test rax, rax
                ; jnz ->fail
            );
            // The target left the bits above the result's width undefined: widen as it is loaded.
            match request.ret {
                Part::Int { bits: 8, signed: true } => dynasm!(ops ; movsx rdi, BYTE [rsp]),
                Part::Int { bits: 8, signed: false } | Part::Bool => dynasm!(ops ; movzx edi, BYTE [rsp]),
                Part::Int { bits: 16, signed: true } => dynasm!(ops ; movsx rdi, WORD [rsp]),
                Part::Int { bits: 16, signed: false } => dynasm!(ops ; movzx edi, WORD [rsp]),
                Part::Int { bits: 32, signed: true } => dynasm!(ops ; movsxd rdi, DWORD [rsp]),
                Part::Int { bits: 32, signed: false } => dynasm!(ops ; mov edi, DWORD [rsp]),
                _ => dynasm!(ops ; mov rdi, QWORD [rsp]),
            }
            dynasm!(ops
                ; leave
                ; jmp QWORD [->box_result]
            );
        }
        Part::Void => dynasm!(ops
            ; call QWORD [->failed]
            ; test rax, rax
            ; jnz ->fail
            ; mov rdi, QWORD [->void_object]
            ; leave
            ; jmp QWORD [->box_result]
        ),
        Part::Object => dynasm!(ops
            ; mov [rsp], rax
            ; call QWORD [->failed]
            ; test rax, rax
            ; jnz ->release
            ; mov rax, [rsp]
            ; test rax, rax
            ; jz ->null
            ; sub rax, request.object_add
            ; leave
            ; ret
            ; ->release:
            ; mov rdi, [rsp]
            ; test rdi, rdi
            ; jz ->fail
            ; sub rdi, request.object_add
            ; call QWORD [->release_fn]
            ; jmp ->fail
            ; ->null:
            ; mov rdi, [rsp + 8]
            ; leave
            ; jmp QWORD [->null_result]
        ),
    }
    let [false_object, true_object] = request.bools.unwrap_or_default();
    dynasm!(ops
        ; ->fail:
        ; xor eax, eax
        ; leave
        ; ret
        ; ->general:
        ; jmp QWORD [->general_fn]
        ; .align 8
        ; ->target:
        ; .u64 request.target as u64
        ; ->failed:
        ; .u64 request.failed as u64
        ; ->box_result:
        ; .u64 request.box_result() as u64
        ; ->release_fn:
        ; .u64 request.release as u64
        ; ->null_result:
        ; .u64 request.null_result as u64
        ; ->general_fn:
        ; .u64 request.general as u64
        ; ->true_object:
        ; .u64 true_object
        ; ->false_object:
        ; .u64 false_object
        ; ->void_object:
        ; .u64 request.void_object
    );
    ops.finalize().expect("the stub's labels are defined")
}

/// The invoker stub of a signature whose arguments are at `args`.
fn invoker_stub(args: &[(Loc, Value)], stack_slots: usize, ret: Option<Value>) -> Vec<u8> {
    // After pushing rbp and rbx, rsp = 8 (mod 16): reserve the stack arguments plus 8 so that
    // rsp is 16-byte aligned at the call, with the arguments right above it.
    let reserve = 8 + (8 * stack_slots).next_multiple_of(16) as i32;
    let mut ops = assembler();
    dynasm!(ops
        ; push rbp
        ; mov rbp, rsp
        ; push rbx
        ; sub rsp, reserve
        ; mov rbx, rdi
        ; mov r11, rsi
    );
    if stack_slots > 0 {
        // Before the argument registers are loaded, while rsi, rdi and rcx are free.
        dynasm!(ops
            ; mov rsi, [rbx + STACK]
            ; mov rdi, rsp
            ; mov ecx, stack_slots as i32
            ; rep movsq
        );
    }
    for &(loc, _) in args {
        match loc {
            Loc::Gpr(k) => dynasm!(ops ; mov Rq(GPR_REGS[k]), QWORD [rbx + GPR + 8 * k as i32]),
            Loc::Xmm(k) => dynasm!(ops ; movq Rx(XMM_REGS[k]), QWORD [rbx + XMM + 8 * k as i32]),
            Loc::Stack(_) => {}
        }
    }
    dynasm!(ops ; call r11);
    match ret {
        Some(v) if v.is_float() => dynasm!(ops ; movq QWORD [rbx + RET], xmm0),
        Some(_) => dynasm!(ops ; mov [rbx + RET], rax),
        None => {}
    }
    dynasm!(ops
        ; mov rbx, [rbp - 8]
        ; leave
        ; ret
    );
    finish(ops)
}

/// The register invoker stub of a signature whose arguments are all in registers, at `args`.
fn register_invoker_stub(args: &[(Loc, Value)], ret: Option<Value>) -> Vec<u8> {
    let mut ops = assembler();
    // Entered with rsp = 8 (mod 16); after the push, 0 for the call. r10 and r11 carry no argument.
    dynasm!(ops
        ; push rbp
        ; mov rbp, rsp
        ; mov r10, rdi
        ; mov r11, rsi
    );
    for (i, &(loc, _)) in args.iter().enumerate() {
        match loc {
            Loc::Gpr(k) => dynasm!(ops ; mov Rq(GPR_REGS[k]), QWORD [r10 + 8 * i as i32]),
            Loc::Xmm(k) => dynasm!(ops ; movq Rx(XMM_REGS[k]), QWORD [r10 + 8 * i as i32]),
            Loc::Stack(_) => unreachable!("register invokers are made for shapes without stack arguments"),
        }
    }
    dynasm!(ops ; call r11);
    if matches!(ret, Some(v) if v.is_float()) {
        dynasm!(ops ; movq rax, xmm0);
    }
    dynasm!(ops
        ; pop rbp
        ; ret
    );
    finish(ops)
}

/// Where entry stubs hand over to Rust: runs the hook's handler over the frame.
///
/// # Safety
/// Only called by entry stubs, with their live frame and the hook they were made for.
unsafe extern "C" fn enter(frame: *mut Frame, hook: *const Hook<Plan>) {
    // SAFETY: the stub passes its own frame, live and unaliased for this call, and the hook it was
    // made for, which (with its plan) lives as long as the stub.
    let (hook, frame) = unsafe { (&*hook, &mut *frame) };
    frame.ret = 0;
    // SAFETY: as above.
    let mut call = FrameCall { frame, plan: unsafe { &*hook.plan } };
    // SAFETY: the handler was given with `data` for calls of this signature, which `call` is.
    unsafe { (hook.handler)(&mut call, hook.data) };
}

/// A [`Call`] over an entry stub's frame.
struct FrameCall<'a> {
    frame: &'a mut Frame,
    plan: &'a Plan,
}

/// `float`s are the low 32 bits of their register or slot; the rest is not part of the value.
fn value_bits(value: Value, word: u64) -> u64 {
    if value == Value::F32 {
        word & 0xffff_ffff
    } else {
        word
    }
}

impl Call for FrameCall<'_> {
    fn arg(&self, i: usize) -> u64 {
        let (loc, value) = self.plan.args[i];
        let word = match loc {
            Loc::Gpr(k) => self.frame.gpr[k],
            Loc::Xmm(k) => self.frame.xmm[k],
            // SAFETY: the caller's stack arguments are live for the whole call, and `s` is below
            // the signature's slot count.
            Loc::Stack(s) => unsafe { self.frame.stack.add(s).read() },
        };
        value_bits(value, word)
    }

    fn set_arg(&mut self, i: usize, value: u64) {
        let (loc, _) = self.plan.args[i];
        match loc {
            Loc::Gpr(k) => self.frame.gpr[k] = value,
            Loc::Xmm(k) => self.frame.xmm[k] = value,
            // SAFETY: as in `arg`; System V lets the callee overwrite its stack arguments.
            Loc::Stack(s) => unsafe { self.frame.stack.add(s).write(value) },
        }
    }

    unsafe fn invoke(&mut self, target: *const c_void) {
        // SAFETY: the invoker was made for this plan's signature and calls `target` (of that
        // signature, the caller's contract) with this frame's arguments.
        unsafe { (self.plan.invoker)(self.frame, target) };
    }

    fn ret(&self) -> u64 {
        self.plan.ret.map_or(0, |v| value_bits(v, self.frame.ret))
    }

    fn set_ret(&mut self, value: u64) {
        if self.plan.ret.is_some() {
            self.frame.ret = value;
        }
    }
}
