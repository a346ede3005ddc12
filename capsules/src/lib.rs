//! The API-table wire format shared by providers, consumers and the runtime (`wire`), and the
//! C signature model that every layer above reuses (`signature`).

pub mod signature;
pub mod wire;
