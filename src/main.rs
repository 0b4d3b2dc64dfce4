//! The `billrun` binary: parse arguments, run, exit with the documented code.

use clap::Parser;

fn main() {
    let cli = billrun::cli::Cli::parse();
    std::process::exit(billrun::execute(cli));
}
