//! Branches the build decides: a call made only where a call of a function
//! that returns a constant returned the other truth is never made.
//!
//! The kernel writes configuration stubs as functions:
//! `static inline bool btrfs_is_subpage(...) { return false; }` in the
//! `#else` of `#if PAGE_SIZE > SZ_4K`. Once the preprocessor pass has left
//! only the branch the build compiles (see
//! [`crate::preproc::blank_dead_branches`]), a caller's `if
//! (!btrfs_is_subpage(fs_info, mapping)) return 0;` decides that nothing
//! after it runs, and the allocation below it is no finding.

use std::collections::{HashMap, HashSet};

use crate::extract::called_in_key;
use crate::facts::FileFacts;

/// One definition of a name: its file, whether it is `static`, and the
/// truth of the constant it returns (`None`: not a constant function).
struct Def {
    file: u32,
    is_static: bool,
    constant: Option<bool>,
}

/// Removes from `files` every call made only under a truth of a call that
/// the called function's constant contradicts, and gives the number
/// removed.
///
/// A name is decided in a file when every definition the file can reach
/// returns a constant of one truth: its own `static` definition if it has
/// one, else every other definition of the name that is not `static`, and
/// the `static` ones of the headers it includes. Resolution here is looser
/// than the call graph's (it keeps every candidate the graph might pick),
/// so a call is removed only when no candidate could take it.
pub fn prune_decided_calls(files: &mut [FileFacts]) -> usize {
    // The names called in branch conditions: few, so only their
    // definitions are collected.
    let mut tested: HashSet<&str> = HashSet::new();
    for file in files.iter() {
        for f in &file.functions {
            for k in &f.cond_keys {
                if let Some(name) = called_in_key(k) {
                    tested.insert(name);
                }
            }
        }
    }
    if tested.is_empty() {
        return 0;
    }
    let mut defs: HashMap<&str, Vec<Def>> = HashMap::new();
    for (fi, file) in files.iter().enumerate() {
        for f in &file.functions {
            if let Some(&name) = tested.get(f.name.as_str()) {
                defs.entry(name).or_default().push(Def {
                    file: fi as u32,
                    is_static: f.is_static,
                    constant: f.returns_constant,
                });
            }
        }
    }
    let header = |fi: u32| {
        let p = &files[fi as usize].path;
        p.ends_with(".h").then(|| p.rsplit('/').next().unwrap_or(p))
    };
    // Per file and condition key: the truth the build gives the call.
    let decided = |fi: u32, name: &str| -> Option<bool> {
        let all = defs.get(name)?;
        let own: Vec<&Def> = all.iter().filter(|d| d.is_static && d.file == fi).collect();
        let reach: Vec<&Def> = if own.is_empty() {
            all.iter()
                .filter(|d| {
                    !d.is_static
                        || header(d.file)
                            .is_some_and(|h| files[fi as usize].includes.iter().any(|i| i == h))
                })
                .collect()
        } else {
            own
        };
        let first = reach.first()?.constant?;
        reach
            .iter()
            .all(|d| d.constant == Some(first))
            .then_some(first)
    };
    let mut dead: Vec<(usize, usize, Vec<usize>)> = Vec::new();
    for (fi, file) in files.iter().enumerate() {
        for (i, f) in file.functions.iter().enumerate() {
            let truths: Vec<Option<bool>> = f
                .cond_keys
                .iter()
                .map(|k| called_in_key(k).and_then(|n| decided(fi as u32, n)))
                .collect();
            if truths.iter().all(Option::is_none) {
                continue;
            }
            let calls: Vec<usize> = f
                .calls
                .iter()
                .enumerate()
                .filter(|(_, c)| {
                    c.conds.iter().any(|&(k, t)| {
                        truths
                            .get(k as usize)
                            .copied()
                            .flatten()
                            .is_some_and(|v| v != t)
                    })
                })
                .map(|(ci, _)| ci)
                .collect();
            if !calls.is_empty() {
                dead.push((fi, i, calls));
            }
        }
    }
    let mut removed = 0;
    for (fi, i, calls) in dead {
        let f = &mut files[fi].functions[i];
        let mut ci = 0;
        f.calls.retain(|_| {
            let keep = !calls.contains(&ci);
            ci += 1;
            keep
        });
        removed += calls.len();
    }
    removed
}
