//! Link options of the `sevenoways-server` binary, and the migrations compiled into it.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    embed_migrations();
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

/// Writes `$OUT_DIR/migrations.rs`: for each backend, its migration files' names and
/// contents, in version order (`src/store/migrations.rs` reads them).
///
/// What `sqlx::migrate!` would embed, without sqlx's proc-macro: that macro compiles
/// sqlx, both drivers and SQLite's C a second time for the compiler's own use, about a
/// fifth of a cold release build (docs/benchmarks.md, "Build and test times"). Unlike the
/// macro, a migration added to a directory rebuilds the server without touching a source.
fn embed_migrations() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut out = String::new();
    for backend in ["sqlite", "postgres"] {
        let dir = root.join(backend);
        println!("cargo:rerun-if-changed={}", dir.display());
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
            .map(|entry| entry.expect("a directory entry").path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "sql"))
            .collect();
        files.sort();
        let _ = writeln!(
            out,
            "pub(crate) const {}: &[(&str, &str)] = &[",
            backend.to_uppercase()
        );
        for path in files {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .expect("a UTF-8 name");
            let _ = writeln!(
                out,
                "    ({name:?}, include_str!({:?})),",
                path.display().to_string()
            );
        }
        out.push_str("];\n");
    }
    let dest = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("migrations.rs");
    std::fs::write(&dest, out).unwrap_or_else(|e| panic!("writing {}: {e}", dest.display()));
}
