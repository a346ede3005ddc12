//! hpybridge runtime: an HPy universal extension (`hpybridge._runtime`) that registers the C APIs
//! HPy extensions export to each other and hands each consumer a call path fit for its context.
//!
//! Folders, each of one job, importing only from those below it (module, cdict, registry,
//! crossing, hpy):
//! - `module/`: the HPy module. `modinit` (the four symbols an HPy loader looks up), `module.c`
//!   (method and slot definitions, forwarding to `functions`), `functions` (what Python calls).
//! - `cdict/`: the `__cdict__` protocol: marshalling Python values to C and back, the
//!   implementations of every exported function, calling them from Python, box and unbox.
//! - `registry/`: who exports what. `mod.rs` (the process-wide registry of APIs and their
//!   consumers), `export` and `import` (the calls providers and consumers make), `import_foreign`
//!   (HPy consumers of another module's C-API capsule), `own_api` (the
//!   runtime's own API table, through which C extensions reach `export_api` and `import_api`).
//! - `crossing/`: calls between context families. `family` (which HPy mode and interpreter a
//!   context belongs to), `plan` (what a slot holds for a consumer family), `translate` (the
//!   translating call), `transfer` (moving a handle between contexts), `table` (consumer tables),
//!   `fallback` and `foreign` (stubs between the CPython API and HPy, each way).
//! - `hpy/`: HPy from Rust. `context` (calling a context's members), `values` (Python values),
//!   `error` (the runtime's `Error` and the Python exception it raises), `boundary` (the one FFI
//!   boundary: every `extern "C"` entry runs its body through `boundary::boundary`, which raises
//!   the body's error and turns a panic into an internal error; `crossing::translate::translate`,
//!   which generated code enters, catches its panics itself and fails with `boundary::call_failed`).
//!
//! Words used with one meaning throughout:
//! - *API table*: an `HPyBridge_APITable` (wire format): a provider's or consumer's declaration,
//!   or the copy the runtime publishes in a capsule.
//! - *consumer table*: the array of function pointers `import_api` returns to one consumer (one
//!   declaration in one family), slot by slot; `apis()` shows it as a consumer's `table`.
//! - *slot*: one function of an API, by position.
//! - *entry*: how a call enters the provider's family with a valid context (`family::Entry`).

pub mod cdict;
pub mod crossing;
pub mod hpy;
mod module;
pub mod registry;
