fn main() -> std::process::ExitCode {
    carburoam::cli::main()
}
