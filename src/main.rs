//! The `billrun` binary: parse arguments, run, exit with the documented code.

use clap::Parser;

// polars and the rating kernel allocate many small buffers across threads; glibc's
// malloc spent about a third of a line-items run in allocation (perf).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = billrun::cli::Cli::parse();
    std::process::exit(billrun::execute(cli));
}
