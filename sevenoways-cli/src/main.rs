fn main() -> std::process::ExitCode {
    sevenoways_cli::main()
}
