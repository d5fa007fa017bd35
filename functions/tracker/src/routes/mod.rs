//! One module per group of endpoints; [`common`] holds what they all do the same way.

pub mod catalog;
pub mod common;
pub mod data;
pub mod days;
pub mod entries;
pub mod export;
pub mod feelings;
pub mod medications;
pub mod passport;
