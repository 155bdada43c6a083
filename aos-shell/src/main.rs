//! `aos`: parses flags and runs the shell; the exit status says how it went.

use clap::Parser;

fn main() {
    std::process::exit(aos_shell::run(aos_shell::Args::parse()));
}
