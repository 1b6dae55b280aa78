fn main() {
    eprintln!("build with --features bench");
}
