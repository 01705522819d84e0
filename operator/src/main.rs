//! The `accord` binary.

#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    accord::cli::run()
}
