//! Writes the seed corpora `fuzz/seeds/<target>/` from the project's real
//! examples (see `bridgepoint_fuzz::seeds`).
//!
//! Usage: `make-seeds [REPO_ROOT]` (default: the parent of this crate).
//! Files named `regression-*` (inputs that once crashed a parser, kept so
//! every run tries them again) are left alone; every other seed file is
//! rewritten, so a changed example in the docs changes its seed.

use std::collections::BTreeMap;
use std::path::PathBuf;

fn main() {
    let root = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".."));
    let out = root.join("fuzz/seeds");
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let seeds = bridgepoint_fuzz::seeds::all(&root);
    for seed in &seeds {
        let dir = out.join(seed.target);
        if !counts.contains_key(seed.target) {
            std::fs::create_dir_all(&dir).expect("create seed dir");
            for entry in std::fs::read_dir(&dir).expect("read seed dir") {
                let path = entry.expect("entry").path();
                let keep = path
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("regression-"));
                if !keep {
                    std::fs::remove_file(&path).expect("remove old seed");
                }
            }
        }
        *counts.entry(seed.target).or_default() += 1;
        std::fs::write(dir.join(&seed.name), &seed.data).expect("write seed");
    }
    for (target, n) in counts {
        println!("{target}: {n} seeds");
    }
}
