//! `report`: renderings of the records (JSON Lines, text).

pub mod json;
pub mod jsonl;
pub mod model;
pub mod text;
