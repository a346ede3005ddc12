//! Crossing between context families: which family a context belongs to (`family`), entering a
//! provider's family with a valid context (`entry`), what each slot holds for a consumer family
//! (`plan`), the translating call (`translate`), moving handles (`transfer`), the consumer tables
//! that hold the result (`table`), C-API callers' stubs (`fallback`), and HPy consumers' stubs of
//! foreign C-API functions (`foreign`); `scoped` sets thread-locals for the extent of a call.

pub mod entry;
pub mod fallback;
pub mod family;
pub mod foreign;
pub mod plan;
mod scoped;
pub mod table;
pub mod transfer;
pub mod translate;
