//! The `drbook` command line. Each subcommand lives in `drbook::cli`.

use std::process::ExitCode;

fn main() -> ExitCode {
    // End quietly when the reader of our output goes away (`drbook fabric
    // show | head`), as Unix tools do, instead of panicking on EPIPE.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of a signal before any
    // thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    drbook::cli::main()
}
