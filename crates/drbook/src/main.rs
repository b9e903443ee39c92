//! The `drbook` command line. Each subcommand lives in `drbook::cli`.

fn main() -> std::process::ExitCode {
    drbook::cli::main()
}
