//! The `zigtrust` command. All logic lives in the library so it can be tested.

fn main() {
    std::process::exit(zigtrust::cli::main_with_args(std::env::args_os()));
}
