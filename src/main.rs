fn main() -> std::process::ExitCode {
    // Once for the process: the HTTP clients (feed, webhook) and lettre use it.
    carburoam::tls::install_provider();
    carburoam::cli::main()
}
