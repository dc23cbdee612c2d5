//! `clearhouse`: see `clearhouse --help`.

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(1)
}
