//! Crossing between context families: which family a context belongs to (`family`), what each
//! slot holds for a consumer family (`plan`), the translating call (`translate`), moving handles
//! (`transfer`), and the consumer tables that hold the result (`table`).

pub mod family;
pub mod plan;
pub mod table;
pub mod transfer;
pub mod translate;
