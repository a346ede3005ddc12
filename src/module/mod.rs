//! The HPy module `hpybridge._runtime`: the symbols the HPy loader looks up (`modinit`), the
//! module definition in C (`module.c`, `runtime.h`), and the functions Python calls (`functions`;
//! those of the `__cdict__` protocol in `cdict`).

pub mod cdict;
pub mod functions;
pub mod modinit;
