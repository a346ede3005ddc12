//! The API-table wire format shared by providers, consumers and the runtime (`wire`), the C
//! signature model that every layer above reuses (`signature`), the CPython-API form of a
//! signature that fallback stubs have (`fallback`), and consumers' declarations of foreign C-API
//! tables with the HPy form they call them in (`foreign`).

pub mod fallback;
pub mod foreign;
pub mod signature;
pub mod wire;
