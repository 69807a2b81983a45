//! The `kiban` binary: parses arguments, runs the command, turns an error into a message and an exit code.

fn main() -> std::process::ExitCode {
    kiban_cli::main()
}
