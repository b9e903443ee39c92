//! Giving memory that jobs freed back to the system.
//!
//! A worker that unloads a job to wait frees what the job used, but glibc's
//! malloc keeps freed memory in the arena of the thread that freed it, and
//! each thread that allocates gets an arena of its own. With the store's
//! calls on the threads of `drbook_core::blocking`, 10,000 jobs waiting in
//! one worker held ~10 MiB more than when every call ran on the async
//! threads (`docs/benchmarks.md`, issue 9). After runs end, the worker asks
//! malloc to return its free pages, at most once per upkeep (a second).

/// Returns malloc's free pages to the system (glibc only; elsewhere the
/// allocator is left to itself).
pub(crate) fn give_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: `malloc_trim` has no preconditions: it only hands pages that
    // malloc holds free back to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}
