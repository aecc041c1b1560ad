//! Link options of the `sevenoways-server` binary.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    // The binary is position-independent, so the loader patches every pointer in its
    // read-only data at start, reading a relocation table of ~1.5 MB that stays resident
    // (about a tenth of an idle server's memory). Packed relocations (DT_RELR) say the
    // same in ~25 KB. Only a C library that reads them (glibc 2.36+) may run such a
    // binary, and Rust's bundled lld does not always record that need: a build against
    // an older glibc would start and crash. So they are packed only when building for this
    // machine and its glibc says it reads them (the `GLIBC_ABI_DT_RELR` version).
    let native = var("HOST") == var("TARGET");
    if native && var("CARGO_CFG_TARGET_OS") == "linux" && var("CARGO_CFG_TARGET_ENV") == "gnu" {
        let arch = var("CARGO_CFG_TARGET_ARCH");
        let candidates = [
            format!("/lib/{arch}-linux-gnu/libc.so.6"),
            format!("/usr/lib/{arch}-linux-gnu/libc.so.6"),
            "/lib64/libc.so.6".to_owned(),
            "/usr/lib64/libc.so.6".to_owned(),
        ];
        let reads_relr = candidates
            .iter()
            .find_map(|path| std::fs::read(path).ok())
            .is_some_and(|libc| libc.windows(17).any(|w| w == b"GLIBC_ABI_DT_RELR"));
        if reads_relr {
            println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
        }
    }
}
