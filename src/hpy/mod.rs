//! The HPy layer: calling a context's members (`context`), Python values (`values`), Python
//! exceptions (`error`), what debug and trace mode keep behind a context (`private`), the host
//! interpreter's own C API where HPy 0.9 has no equivalent (`host`), and the one boundary every
//! `extern "C"` entry of the runtime goes through (`boundary`). It knows nothing of APIs or
//! families: everything above builds on it.

pub mod boundary;
pub mod context;
pub mod cpython;
pub mod error;
pub mod host;
pub mod private;
pub mod values;
