fn main() -> std::process::ExitCode {
    braid::run().into()
}
