//! What the backends need to know about a signature's values: how each is represented on this
//! machine and, for x86_64 System V ([`sysv`]), which register or stack slot carries it.
//!
//! These are the only ABI facts of the project: the signature model (`capsules`) says what a type
//! is, this module how it is passed. The libffi backend runs on any target, so integer sizes and
//! the signedness of plain `char` come from the target's own C types (`long` is 4 bytes on 32-bit
//! targets; `char` is unsigned on aarch64 Linux); the test below pins the x86_64 System V values.

use crate::Error;
use capsules::signature::{CType, IntKind, Scalar, Signature};
use std::ffi::{c_char, c_long};
use std::mem::size_of;

/// Most parameters a trampoline takes. Bounds the per-call argument buffers of the libffi
/// backend, which live on the stack so that a call allocates nothing.
pub const MAX_ARGS: usize = 64;

/// How one non-void C value is represented and passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Value {
    /// A C integer of `bytes` bytes (`bool` is a 1-byte unsigned integer).
    Int {
        bytes: usize,
        signed: bool,
    },
    /// Any data pointer, `HPyContext *` included.
    Pointer,
    /// `HPy`: `struct { intptr_t _i; }`. Passed like an `intptr_t` on x86_64, but other ABIs may
    /// treat one-member structs differently, so libffi is told it is a struct.
    Handle,
    F32,
    F64,
}

impl Value {
    /// `None` for `void`.
    pub fn of(ty: &CType) -> Option<Value> {
        Some(match *ty {
            CType::Void => return None,
            CType::Value(Scalar::Int(kind)) => Value::Int { bytes: int_bytes(kind), signed: int_signed(kind) },
            CType::Value(Scalar::Float) => Value::F32,
            CType::Value(Scalar::Double) => Value::F64,
            CType::Value(Scalar::Handle) => Value::Handle,
            CType::Pointer { .. } => Value::Pointer,
        })
    }

    /// Whether it travels in a floating-point register.
    pub fn is_float(self) -> bool {
        matches!(self, Value::F32 | Value::F64)
    }
}

/// Integer sizes on this target: LP64 and ILP32 differ for `long` and the pointer-sized typedefs.
fn int_bytes(kind: IntKind) -> usize {
    use IntKind::*;
    match kind {
        Char | SignedChar | UnsignedChar | Int8T | UInt8T | Bool => 1,
        Short | UnsignedShort | Int16T | UInt16T => 2,
        Int | UnsignedInt | Int32T | UInt32T | HPyUcs4 => 4,
        LongLong | UnsignedLongLong | Int64T | UInt64T => 8,
        Long | UnsignedLong => size_of::<c_long>(),
        SizeT | SSizeT | PySsizeT | HPySsizeT | IntPtrT | UIntPtrT => size_of::<usize>(),
    }
}

/// Whether narrow values widen by sign extension. `bool` holds 0 or 1 and widens by zero
/// extension; plain `char` is signed or not as the target says.
fn int_signed(kind: IntKind) -> bool {
    use IntKind::*;
    match kind {
        Char => c_char::MIN != 0,
        SignedChar | Short | Int | Long | LongLong | SSizeT | PySsizeT | HPySsizeT | IntPtrT => true,
        Int8T | Int16T | Int32T | Int64T => true,
        UnsignedChar | UnsignedShort | UnsignedInt | UnsignedLong | UnsignedLongLong | SizeT | HPyUcs4 => false,
        UIntPtrT | UInt8T | UInt16T | UInt32T | UInt64T | Bool => false,
    }
}

/// Sign- or zero-extends the low `bytes` of `raw`.
pub fn widen(raw: u64, bytes: usize, signed: bool) -> u64 {
    let unused = 64 - 8 * bytes as u32;
    if signed {
        ((raw << unused) as i64 >> unused) as u64
    } else {
        raw << unused >> unused
    }
}

/// A signature's values, checked once for what every backend supports. Signatures with the
/// same shape (`long (long)` and `int64_t (int64_t)` on LP64) are called the same way, so
/// backends share per-shape machinery between them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Shape {
    pub args: Vec<Value>,
    /// `None` for `void`.
    pub ret: Option<Value>,
}

impl Shape {
    pub fn of(sig: &Signature) -> Result<Shape, Error> {
        let unsupported = |reason: String| Error::Unsupported { signature: sig.to_string(), reason };
        if sig.args.len() > MAX_ARGS {
            return Err(unsupported(format!("{} parameters, at most {MAX_ARGS} are supported", sig.args.len())));
        }
        let args = sig
            .args
            .iter()
            .enumerate()
            .map(|(i, ty)| Value::of(ty).ok_or_else(|| unsupported(format!("parameter {i} is void"))))
            .collect::<Result<_, _>>()?;
        Ok(Shape { args, ret: Value::of(&sig.ret) })
    }
}

/// x86_64 System V argument passing, for the dynasm backend.
#[cfg(target_arch = "x86_64")]
pub mod sysv {
    use super::Value;

    /// Integer argument registers: rdi, rsi, rdx, rcx, r8, r9, in that order.
    pub const GPRS: usize = 6;
    /// Floating-point argument registers: xmm0..xmm7.
    pub const XMMS: usize = 8;

    /// Where an argument arrives.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Loc {
        /// Integer argument register number (0 is rdi).
        Gpr(usize),
        /// xmm register number.
        Xmm(usize),
        /// Eight-byte slot number in the caller's outgoing argument area (slot 0 at `rsp + 8` on
        /// entry). Every supported type takes exactly one slot.
        Stack(usize),
    }

    /// Each argument's location: integer-class arguments take the next free GPR, floating-point
    /// ones the next free xmm, and whatever finds its registers used up the next stack slot.
    pub fn locations(args: &[Value]) -> Vec<Loc> {
        let (mut gprs, mut xmms, mut slots) = (0, 0, 0);
        let mut next = |free: &mut usize, max: usize, reg: fn(usize) -> Loc| {
            if *free < max {
                *free += 1;
                reg(*free - 1)
            } else {
                slots += 1;
                Loc::Stack(slots - 1)
            }
        };
        args.iter()
            .map(|v| if v.is_float() { next(&mut xmms, XMMS, Loc::Xmm) } else { next(&mut gprs, GPRS, Loc::Gpr) })
            .collect()
    }

    /// Stack slots the arguments take.
    pub fn stack_slots(locs: &[Loc]) -> usize {
        locs.iter().filter(|l| matches!(l, Loc::Stack(_))).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use capsules::signature::CType;

    /// x86_64 System V (LP64): every type's size, signedness and register class.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn x86_64_values() {
        let value = |ty: &str| {
            let sig = Signature::parse(&format!("void ({ty})")).expect("valid signature");
            Value::of(&sig.args[0]).expect("not void")
        };
        let int = |bytes, signed| Value::Int { bytes, signed };
        for (types, expected) in [
            ("char, signed char, int8_t", int(1, true)),
            ("unsigned char, uint8_t, bool", int(1, false)),
            ("short, int16_t", int(2, true)),
            ("unsigned short, uint16_t", int(2, false)),
            ("int, int32_t", int(4, true)),
            ("unsigned, uint32_t, HPy_UCS4", int(4, false)),
            ("long, long long, int64_t, intptr_t, ssize_t, Py_ssize_t, HPy_ssize_t", int(8, true)),
            ("unsigned long, unsigned long long, uint64_t, uintptr_t, size_t", int(8, false)),
            ("float", Value::F32),
            ("double", Value::F64),
            ("HPy", Value::Handle),
            ("HPyContext *, HPyContext **, HPy *, void *, PyObject *, char **", Value::Pointer),
        ] {
            for ty in types.split(", ") {
                assert_eq!(value(ty), expected, "{ty}");
            }
        }
        assert!(Value::F32.is_float() && Value::F64.is_float() && !value("long").is_float());
        assert_eq!(Value::of(&CType::Void), None);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn sysv_locations_fill_registers_then_the_stack() {
        use sysv::Loc::*;
        let sig = Signature::parse("void (int, double, int, int, int, int, int, float, int, double, double, double, double, double, double, double, long)")
            .expect("valid signature");
        let shape = Shape::of(&sig).expect("supported");
        let locs = sysv::locations(&shape.args);
        assert_eq!(
            locs,
            [
                Gpr(0),
                Xmm(0),
                Gpr(1),
                Gpr(2),
                Gpr(3),
                Gpr(4),
                Gpr(5),
                Xmm(1),
                Stack(0),
                Xmm(2),
                Xmm(3),
                Xmm(4),
                Xmm(5),
                Xmm(6),
                Xmm(7),
                Stack(1),
                Stack(2)
            ]
        );
        assert_eq!(sysv::stack_slots(&locs), 3);
    }

    #[test]
    fn too_many_parameters_are_rejected() {
        let sig =
            Signature::parse(&format!("void ({})", vec!["int"; MAX_ARGS + 1].join(", "))).expect("valid signature");
        assert!(matches!(Shape::of(&sig), Err(Error::Unsupported { .. })));
        let sig = Signature::parse(&format!("void ({})", vec!["int"; MAX_ARGS].join(", "))).expect("valid signature");
        assert_eq!(Shape::of(&sig).expect("supported").args.len(), MAX_ARGS);
    }
}
