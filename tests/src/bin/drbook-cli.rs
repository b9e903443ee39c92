//! The `drbook` command line, built inside the test crate so that its
//! integration tests get it through `CARGO_BIN_EXE_drbook`, always fresh.

fn main() -> std::process::ExitCode {
    drbook::cli::main()
}
