//! `clearhouse`: see `clearhouse --help` and `clearhouse_cli`.

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(clearhouse_cli::main_with_args(std::env::args_os()))
}
