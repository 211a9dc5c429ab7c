//! Shared by the integration tests of this crate (and, through `#[path]`,
//! by the fuzz targets and the workspace root's replay test).
#![allow(dead_code)]

pub mod mqtt_diff;
pub mod replay;
