//! Helpers shared by the end-to-end tests and the sample-capture generator.

pub mod netns;
pub mod pcapgen;
pub mod replay;
