//! The HPy module `hpybridge._runtime`: the symbols the HPy loader looks up (`modinit`), the
//! module definition in C (`module.c`, `runtime.h`), and the functions Python calls (`functions`).

pub mod functions;
pub mod modinit;
