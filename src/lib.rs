//! hpybridge runtime: an HPy universal extension (`hpybridge._runtime`) that registers the C APIs
//! HPy extensions export to each other and hands each consumer a call path fit for its context.
//!
//! - `modinit`: the four symbols an HPy loader looks up (what `HPy_MODINIT` writes in C).
//! - `module.c`: the module's method and slot definitions, forwarding to `pyapi`.
//! - `pyapi`: the functions Python sees.
//! - `context`: which HPy mode and interpreter a context belongs to.
//! - `registry`: the process-wide table of exported APIs and their consumers.
//! - `export` / `import`: the two calls providers and consumers make (through `runtime_api`, the
//!   runtime's own API table, published like any provider's).
//! - `tables` / `xcall` / `transfer`: what consumers of another context family call through:
//!   trampolines (from the `trampolines` crate) that swap contexts and move handles.
//! - `errors`: raising `hpybridge.errors` exceptions in the caller's context.
//! - `hpycall`: calling an `HPyContext`'s members from Rust.

pub mod context;
mod errors;
mod export;
pub mod hpycall;
mod import;
mod modinit;
mod pyapi;
pub mod registry;
mod runtime_api;
pub mod tables;
pub mod transfer;
mod xcall;
