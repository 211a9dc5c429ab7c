//! `report`: renderings of the records (JSON Lines, text).

pub mod csv;
pub mod html;
pub mod json;
pub mod jsonl;
pub mod lines;
pub mod markdown;
pub mod model;
pub mod text;
