//! What every Lambda function of the API shares.

pub mod aws;
pub mod clock;
pub mod store;
#[cfg(feature = "testkit")]
pub mod testkit;
