//! Rating usage rows against the catalog, exactly.

pub mod allocate;
pub mod dedup;
pub mod group;
pub mod rate;
