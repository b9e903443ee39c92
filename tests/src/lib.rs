//! Shared helpers of drbook's integration tests, and the paths of the guests
//! that `build.rs` built.

/// Paths of the built runbooks and test guests.
pub mod guests {
    include!(concat!(env!("OUT_DIR"), "/guests.rs"));
}
