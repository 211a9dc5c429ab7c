//! `report`: renderings of the records (JSON Lines, text, and the batch
//! reports HTML, Markdown, CSV), and the report model they are built from
//! (`model`), filled from live records or from JSON Lines (`ingest`).

pub mod csv;
pub mod html;
pub mod ingest;
pub mod json;
pub mod jsonl;
pub mod lines;
pub mod markdown;
pub mod model;
pub mod text;
