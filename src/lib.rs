//! hpybridge runtime: an HPy universal extension (`hpybridge._runtime`) that registers the C APIs
//! HPy extensions export to each other and hands each consumer a call path fit for its context.
//!
//! - `modinit`: the four symbols an HPy loader looks up (what `HPy_MODINIT` writes in C).
//! - `module.c`: the module's method and slot definitions, forwarding to `pyapi`.
//! - `pyapi`: the functions Python sees.
//! - `context`: which HPy mode and interpreter a context belongs to.
//! - `hpycall`: calling an `HPyContext`'s members from Rust.

pub mod context;
pub mod hpycall;
mod modinit;
mod pyapi;
