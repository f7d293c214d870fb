//! The fuzz-regression replay: inputs cargo-fuzz found (and hand-made edge cases) are kept
//! under a crate's `tests/fuzz-regressions/` and replayed by `cargo test`.

use std::path::Path;

/// Replays every input file in `dir` (its `.md` notes excepted), in name order, through
/// `replay`, which must not panic. Returns how many inputs there were; panics when there are
/// none, so a lost directory cannot pass silently.
pub fn replay_regressions(dir: &Path, mut replay: impl FnMut(&[u8])) -> usize {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap_or_else(|e| panic!("{}: {e}", dir.display())).path())
        .filter(|p| p.extension().is_none_or(|e| e != "md"))
        .collect();
    paths.sort();
    for p in &paths {
        let data = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        // The panic hook has printed what failed; this names the input that made it fail.
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| replay(&data))).is_err() {
            panic!("replaying {} panicked", p.display());
        }
    }
    assert!(!paths.is_empty(), "no regression inputs in {}", dir.display());
    paths.len()
}
