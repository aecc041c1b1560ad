//! Link options of the `sevenoways-server` binary.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    // The binary is position-independent, so the loader patches every pointer in its
    // read-only data at start, reading a relocation table of ~1.5 MB that stays resident
    // (about a tenth of an idle server's memory). Packed relocations (DT_RELR) say the
    // same in ~25 KB. GNU ld 2.38+ and lld 15+ pack them (GNU ld records that the binary
    // needs glibc 2.36+, which reads them); older GNU linkers warn and ignore the option.
    if var("CARGO_CFG_TARGET_OS") == "linux" && var("CARGO_CFG_TARGET_ENV") == "gnu" {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
