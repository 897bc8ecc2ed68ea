//! Links GCC's unwinder (`libgcc_eh.a`) into the light `o365-auth` client, so the dynamic
//! loader no longer maps `libgcc_s.so.1` at every start: that one shared library costs about
//! 0.1 ms of a process that should take little more than `/bin/true` (scripts/bench-token.sh;
//! an empty Rust program starts in 1.39× `/bin/true` with it and 1.2× without). It is what
//! `gcc -static-libgcc` does; rustc names `-lgcc_s` itself, so the archive is linked whole
//! after it and the linker (`--as-needed`, rustc's default) then drops the shared library.
//! Only the `o365-auth` binary; the daemon keeps the default. Where no `libgcc_eh.a` is found
//! (another C toolchain), nothing changes.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=CC");
    let target = std::env::var("TARGET").unwrap_or_default();
    if !target.ends_with("-linux-gnu") {
        return;
    }
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    let Ok(output) = Command::new(cc)
        .arg("-print-file-name=libgcc_eh.a")
        .output()
    else {
        return;
    };
    let archive = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    // Without the file, cc prints the bare name back.
    let Some(directory) = archive
        .parent()
        .filter(|_| archive.is_absolute() && archive.is_file())
    else {
        return;
    };
    for arg in [
        format!("-L{}", directory.display()),
        "-Wl,--whole-archive".to_owned(),
        "-lgcc_eh".to_owned(),
        "-Wl,--no-whole-archive".to_owned(),
    ] {
        println!("cargo:rustc-link-arg-bin=o365-auth={arg}");
    }
}
