//! The `drbook` command line. Each subcommand lives in `drbook::cli`.

use std::process::ExitCode;

fn main() -> ExitCode {
    drbook::cli::main()
}
