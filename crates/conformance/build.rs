//! Embeds every `tests/conformance/*.json` file, so that the corpus also reaches builds with no
//! file system (WebAssembly in a browser).

use std::fmt::Write as _;
use std::{env, fs, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("../../tests/conformance");
    println!("cargo::rerun-if-changed={}", dir.display());
    let mut names: Vec<String> = fs::read_dir(&dir)?
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json"))
        .collect();
    names.sort();
    let mut out =
        String::from("/// Every case file: (file name, contents).\npub const FILES: &[(&str, &str)] = &[\n");
    for name in &names {
        let path = dir.join(name).canonicalize()?;
        println!("cargo::rerun-if-changed={}", path.display());
        writeln!(out, "    ({name:?}, include_str!({:?})),", path.display().to_string())?;
    }
    out.push_str("];\n");
    fs::write(PathBuf::from(env::var("OUT_DIR")?).join("corpus.rs"), out)?;
    Ok(())
}
