//! The `accord` binary.

#![forbid(unsafe_code)]

// mimalloc: delivery builds and drops millions of small JSON values per pass, which the
// system allocator spends a fifth of a pass on.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    accord::cli::run()
}
