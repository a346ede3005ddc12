//! The API-table wire format shared by providers, consumers and the runtime (`wire`), the C
//! signature model that every layer above reuses (`signature`), and the CPython-API form of a
//! signature that fallback stubs have (`fallback`).

pub mod fallback;
pub mod signature;
pub mod wire;
