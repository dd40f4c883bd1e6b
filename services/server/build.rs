//! Rebuilds the binary when the web UI is rebuilt: the embedded files are named by content
//! hash, so a new build brings new file names that only a directory watch notices.

use std::path::Path;

fn main() {
    let dist = Path::new("../../ui/dist");
    if dist.exists() {
        println!("cargo::rerun-if-changed=../../ui/dist");
    } else {
        // Until the first UI build: notice `dist` appearing.
        println!("cargo::rerun-if-changed=../../ui/package.json");
        println!("cargo::rerun-if-changed=../../ui");
    }
}
