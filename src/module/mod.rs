//! The HPy module `hpybridge._runtime`: the symbols the HPy loader looks up (`modinit`), the
//! module definition in C (`module.c`, `runtime.h`), and the functions Python calls (`functions`;
//! those of the `__cdict__` protocol in `cdict`, and of its `CFunction` type, defined in
//! `cfunction.c`, in `cfunction`; adopting foreign C functions in `adopt`).

pub mod adopt;
pub mod cdict;
pub mod cfunction;
pub mod cfunction_vectorcall;
pub mod functions;
pub mod modinit;
