fn main() {
    std::process::exit(braid::run());
}
