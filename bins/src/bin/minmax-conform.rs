//! minmax-conform: parses the command line and runs the battery, the grader or the
//! matrix (`minmax_bins::conform`); exit 0 all passed, 1 something failed, 2 the tool
//! could not run.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args = minmax_bins::conform::cli::parse();
    ExitCode::from(minmax_bins::conform::run(args))
}
