//! Why a trampoline could not be made.

use std::fmt;
use std::io;

/// Why a trampoline could not be made. Nothing is half-made: after an error the factory is as it
/// was, minus at most some reserved but unused code memory.
#[derive(Debug)]
pub enum Error {
    /// The code would take the factory past the `limit_bytes` it was created with.
    Limit {
        /// Bytes the request needed.
        needed: usize,
        /// Bytes already taken ([`crate::Trampolines::code_bytes`]).
        held: usize,
        limit: usize,
    },
    /// The request cannot be met for this signature.
    Unsupported { signature: String, reason: String },
    /// A system call failed while getting or mapping code memory.
    Os { call: &'static str, error: io::Error },
    /// libffi refused a signature or a closure.
    Ffi { call: &'static str, detail: String, signature: String },
}

impl Error {
    /// An `Os` error from `errno`, to be called right after the failing call.
    pub(crate) fn last_os(call: &'static str) -> Error {
        Error::Os { call, error: io::Error::last_os_error() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Limit { needed, held, limit } => write!(
                f,
                "trampoline code memory exhausted: {needed} more bytes needed, {held} of the {limit}-byte limit already taken"
            ),
            Error::Unsupported { signature, reason } => write!(f, "unsupported signature \"{signature}\": {reason}"),
            Error::Os { call, error } => write!(f, "{call} failed while getting trampoline code memory: {error}"),
            Error::Ffi { call, detail, signature } => write!(f, "libffi {call} failed for \"{signature}\": {detail}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Os { error, .. } => Some(error),
            _ => None,
        }
    }
}
