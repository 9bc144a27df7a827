//! Generates include/xmpp_sic.h with the pinned cbindgen, and the version
//! numbers both the header and the library report, from Cargo metadata.

use std::{env, fs, path::Path};

fn abi_version(manifest: &str) -> u32 {
    let mut in_section = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_section = line == "[package.metadata.xmpp-sic]";
        } else if let (true, Some(value)) = (in_section, line.strip_prefix("abi-version")) {
            let value = value.trim_start().trim_start_matches('=').trim();
            return value.parse().expect("abi-version must be a whole number");
        }
    }
    panic!("Cargo.toml lacks [package.metadata.xmpp-sic] abi-version");
}

fn main() {
    let dir = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let manifest = fs::read_to_string(Path::new(&dir).join("Cargo.toml")).expect("read Cargo.toml");
    let abi = abi_version(&manifest);
    println!("cargo:rustc-env=XMPP_SIC_ABI_VERSION={abi}");
    // The SONAME follows the ABI, not the crate version: a server linked
    // against ABI 1 keeps working across releases that keep ABI 1.
    if env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libxmpp_sic.so.{abi}");
    }
    println!("cargo:rerun-if-changed=Cargo.toml");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=src");

    let version = env::var("CARGO_PKG_VERSION").expect("cargo sets CARGO_PKG_VERSION");
    let part = |name: &str| env::var(name).expect("cargo sets the version parts");
    let mut config = cbindgen::Config::from_file(Path::new(&dir).join("cbindgen.toml"))
        .expect("read cbindgen.toml");
    config.after_includes = Some(format!(
        "\n#define SIC_VERSION \"{version}\"\n#define SIC_VERSION_MAJOR {}\n#define SIC_VERSION_MINOR {}\n#define SIC_VERSION_PATCH {}\n\n/* Compare with sic_abi_version() at load time. */\n#define SIC_ABI_VERSION {abi}\n",
        part("CARGO_PKG_VERSION_MAJOR"),
        part("CARGO_PKG_VERSION_MINOR"),
        part("CARGO_PKG_VERSION_PATCH"),
    ));
    let header = cbindgen::Builder::new()
        .with_crate(&dir)
        .with_config(config)
        .generate()
        .expect("cbindgen could not generate the header");
    let mut bytes = Vec::new();
    header.write(&mut bytes);
    let path = Path::new(&dir).join("include").join("xmpp_sic.h");
    // Rewriting an unchanged file would make every build look dirty.
    if fs::read(&path).ok().as_deref() != Some(&bytes[..]) {
        fs::create_dir_all(path.parent().expect("include/ has a parent")).expect("create include/");
        fs::write(&path, &bytes).expect("write include/xmpp_sic.h");
    }
}
