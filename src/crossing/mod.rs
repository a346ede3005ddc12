//! Crossing between context families: which family a context belongs to (`family`), what each
//! slot holds for a consumer family (`plan`), the translating call (`translate`), moving handles
//! (`transfer`), and the consumer tables that hold the result (`table`); `scoped` sets the
//! translating call's thread-locals for the extent of a call.

pub mod family;
pub mod plan;
mod scoped;
pub mod table;
pub mod transfer;
pub mod translate;
