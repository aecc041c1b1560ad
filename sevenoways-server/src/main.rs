//! `sevenoways-server`: run the relay, manage its API keys, or back its database up
//! (`sevenoways_server::cli`).

// An accepted send allocates a few dozen small buffers across threads (the request, its
// job, the batch's statements, the answer); glibc's malloc spent 13 % of the accept
// path's CPU on them, mimalloc half that. Measured side by side with wrk: 61-72 µs of
// CPU per accepted send instead of 74-87, and 20-30 % more sends a second, for about
// 1 MiB more idle RSS (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    sevenoways_server::cli::main()
}
