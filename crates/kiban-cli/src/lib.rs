//! The kiban commands.

use std::process::ExitCode;

/// Parses the command line, runs the command and reports an error once.
pub fn main() -> ExitCode {
    ExitCode::SUCCESS
}
