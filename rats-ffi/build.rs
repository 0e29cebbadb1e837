//! Gives librats.so the SONAME librats.so.0 on ELF targets, so programs linked against it
//! record `librats.so.0` (the name the install script links to the library).

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if matches!(
        os.as_str(),
        "linux" | "android" | "freebsd" | "netbsd" | "openbsd"
    ) {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,librats.so.0");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
