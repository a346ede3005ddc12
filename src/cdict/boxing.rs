//! Box and unbox, as in mtypes: a Python value as the bytes of a C value of a given type, and
//! back (`hpybridge.box`, `hpybridge.unbox`), by the rules calls marshal with (`marshal`).
//!
//! Only values that stand alone in their bytes box: integers, `bool`, `float`, `double`, and
//! pointers given as an int address or None. A handle, an object or a buffer's address is only
//! valid while something holds it, which bytes cannot.

use crate::cdict::marshal::{from_c, to_c, Held, Kind};
use crate::hpy;
use crate::hpy::error::{check, Error, Exception, Result};
use capsules::signature::{CType, Signature};
use hpy_sys::{HPy, HPyContext};

/// The type a `box`/`unbox` call names, e.g. `unsigned char` or `const double *`.
fn parse_type(text: &str, what: &str) -> Result<CType> {
    let sig = Signature::parse(&format!("void ({text})"))
        .map_err(|e| Error::new(Exception::ValueError, format!("{what}: {text:?} is not a C type: {}", e.found)))?;
    match sig.args.as_slice() {
        [ty] => Ok(*ty),
        _ => Err(Error::new(Exception::ValueError, format!("{what}: expected one C type, got {text:?}"))),
    }
}

/// The size of a boxed value of `kind`, or why it does not box.
fn size(kind: Kind) -> Result<usize, &'static str> {
    match kind {
        Kind::Int { bytes, .. } => Ok(bytes),
        Kind::Bool => Ok(1),
        Kind::Float => Ok(4),
        Kind::Double => Ok(8),
        Kind::Text | Kind::Array { .. } | Kind::Address { .. } | Kind::OtherPointer => Ok(size_of::<usize>()),
        Kind::Handle => Err("an HPy handle belongs to a context and a call; it has no bytes of its own"),
        Kind::Object => Err("a PyObject * is only valid while a reference is held; bytes hold none"),
        Kind::Context => Err("an HPyContext * is the runtime's to fill in"),
        Kind::Void => Err("void has no value"),
    }
}

/// `box(ctype, value)`: the bytes of `value` as a C `ctype`, in native byte order.
///
/// # Safety
/// `ctx` must be valid for the current call and `value` a live handle of it.
pub unsafe fn boxed(ctx: *mut HPyContext, ctype: &str, value: HPy) -> Result<HPy> {
    let ty = parse_type(ctype, "box()")?;
    let kind = Kind::of(&ty);
    let what = || format!("box() value ({})", ty.qualified());
    let n = size(kind).map_err(|why| Error::new(Exception::TypeError, format!("box(): {ty} does not box: {why}")))?;
    // Pointers box from an address only: a buffer's or a string's address dies with the call.
    let kind = if matches!(ty, CType::Pointer { .. }) {
        // SAFETY: `ctx` is valid and `value` lives in it; `h_LongType` and `h_None` are its handles.
        let address = unsafe {
            hpy!(ctx, ctx_TypeCheck, value, (*ctx).h_LongType) != 0 || hpy!(ctx, ctx_Is, value, (*ctx).h_None) != 0
        };
        if !address {
            return Err(Error::new(
                Exception::TypeError,
                format!("{}: pointers box from an int address or None only", what()),
            ));
        }
        Kind::Address { writable: false }
    } else {
        kind
    };
    // An int, None or a scalar borrows nothing: `held` stays empty.
    let mut held = Held::default();
    // SAFETY: `ctx` is valid and `value` lives in it.
    let word = unsafe { to_c(ctx, value, kind, &mut held, &what)? };
    let bytes = word.to_ne_bytes();
    let start = if cfg!(target_endian = "little") { 0 } else { 8 - n };
    let data = &bytes[start..start + n];
    // SAFETY: `ctx` is valid for the current call; `data` outlives the call.
    check(unsafe { hpy!(ctx, ctx_Bytes_FromStringAndSize, data.as_ptr().cast(), n as isize) })
}

/// `unbox(ctype, data)`: the Python value of the C `ctype` whose bytes are `data`.
///
/// # Safety
/// `ctx` must be valid for the current call and `data` a live handle of it.
pub unsafe fn unboxed(ctx: *mut HPyContext, ctype: &str, data: HPy) -> Result<HPy> {
    let ty = parse_type(ctype, "unbox()")?;
    let kind = Kind::of(&ty);
    let n =
        size(kind).map_err(|why| Error::new(Exception::TypeError, format!("unbox(): {ty} does not unbox: {why}")))?;
    // SAFETY: `ctx` is valid and `data` lives in it; the bytes are copied before `data` can change.
    let bytes = unsafe {
        if hpy!(ctx, ctx_Bytes_Check, data) == 0 {
            let found = crate::hpy::values::type_name(ctx, data);
            return Err(Error::new(Exception::TypeError, format!("unbox(): expected bytes, got {found}")));
        }
        let p = hpy!(ctx, ctx_Bytes_AsString, data);
        let len = hpy!(ctx, ctx_Bytes_Size, data);
        if p.is_null() || len < 0 {
            return Err(Error::Set);
        }
        std::slice::from_raw_parts(p.cast::<u8>(), len as usize).to_vec()
    };
    if bytes.len() != n {
        return Err(Error::new(Exception::ValueError, format!("unbox(): a {ty} is {n} bytes, got {}", bytes.len())));
    }
    let mut raw = [0u8; 8];
    let start = if cfg!(target_endian = "little") { 0 } else { 8 - n };
    raw[start..start + n].copy_from_slice(&bytes);
    let mut word = u64::from_ne_bytes(raw);
    match kind {
        Kind::Int { signed: true, bytes, .. } if bytes < 8 => {
            let shift = 64 - 8 * bytes as u32;
            word = (((word << shift) as i64) >> shift) as u64;
        }
        Kind::Bool if word > 1 => {
            return Err(Error::new(Exception::ValueError, format!("unbox(): a bool is 0 or 1, got {word}")));
        }
        _ => {}
    }
    // Pointers come back as their address: reading through one would trust arbitrary bytes.
    let kind = if matches!(ty, CType::Pointer { .. }) { Kind::OtherPointer } else { kind };
    // SAFETY: `ctx` is valid for the current call; pointer kinds are not dereferenced.
    unsafe { from_c(ctx, kind, word) }
}
