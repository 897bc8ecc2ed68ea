//! The token service: what keeps every account fresh and hands tokens to other programs.

pub mod scheduler;
