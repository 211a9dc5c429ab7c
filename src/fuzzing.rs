//! Entry points for the fuzz targets in `fuzz/` and for replaying their
//! corpora in `cargo test` (not a public API).
