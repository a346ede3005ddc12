//! The API-table wire format shared by providers, consumers and the runtime,
//! and the C signature model that every layer above reuses.

pub mod signature;
