//! The job's streams. `output!` for results, `warning!`/`error!` for what an
//! operator must see, `verbose!` for detail, `progress!` for the progress bar.
//! Everything is stored with the job: never log secrets.

pub use crate::bindings::drbook::runbook::log::Level;

/// Appends a line to a stream (the macros call this).
pub fn write(level: Level, message: &str) {
    crate::bindings::drbook::runbook::log::write(level, message)
}

/// Reports the job's progress: percent done and the current activity.
pub fn progress(percent: u8, activity: &str) {
    crate::bindings::drbook::runbook::log::progress(percent, activity)
}

#[macro_export]
macro_rules! output {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Output, &::std::format!($($arg)*)) };
}

#[macro_export]
macro_rules! warning {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Warning, &::std::format!($($arg)*)) };
}

#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Error, &::std::format!($($arg)*)) };
}

#[macro_export]
macro_rules! verbose {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Verbose, &::std::format!($($arg)*)) };
}

#[macro_export]
macro_rules! progress {
    ($percent:expr, $($arg:tt)*) => { $crate::log::progress($percent, &::std::format!($($arg)*)) };
}
