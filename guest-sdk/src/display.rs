//! Readable names for the WIT enums in messages (`Planned`, `FailedOverCommitPending`),
//! instead of the generated `Debug` (`FailoverType::Planned`).

use crate::fabric::{
    AllowedOperation, Direction, FailoverType, Health, Location, OperationKind, OperationState,
    ProtectionState, TestFailoverState,
};

macro_rules! display_by_variant_name {
    ($($ty:ty),* $(,)?) => {$(
        impl core::fmt::Display for $ty {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                let debug = format!("{self:?}");
                f.write_str(debug.rsplit("::").next().unwrap_or(&debug))
            }
        }
    )*};
}

display_by_variant_name!(
    AllowedOperation,
    Direction,
    FailoverType,
    Health,
    Location,
    OperationKind,
    OperationState,
    ProtectionState,
    TestFailoverState,
);
