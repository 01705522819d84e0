//! The `accord` binary.

#![forbid(unsafe_code)]

// mimalloc: delivery builds and drops millions of small JSON values per pass, which the
// system allocator spends a fifth of a pass on. Built without transparent huge pages
// (`no_thp`): on virtual machines a huge page's first touch can cost more than the 512
// small pages it replaces (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    accord::cli::run()
}
