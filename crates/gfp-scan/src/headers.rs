//! What headers tell the files that include them, learnt in a first wave
//! over the headers before the source files are read: their lock wrappers
//! (static inlines that take or drop a lock for their caller) and the
//! names they `#undef` for good (`#undef EXT2FS_DEBUG` in `ext2.h`).
//!
//! Lock wrappers are offered by header file name, as `#include` lines name
//! them (a wrapper two headers of the same file name disagree on is left
//! out); undefined names only through a quoted include that resolves to
//! the header itself, since they switch code off.

use std::collections::{HashMap, HashSet};

use aho_corasick::AhoCorasick;

use crate::facts::FileFacts;
use crate::lexical::LockHelper;

/// The headers' lock wrappers and undefined names, by header file name,
/// with one automaton over all the wrappers' names so that a file is
/// searched once for the ones it mentions.
#[derive(Default)]
pub struct HeaderFacts {
    by_header: HashMap<String, Vec<LockHelper>>,
    /// Every wrapper name, sorted: the automaton's patterns in order.
    names: Vec<String>,
    matcher: Option<AhoCorasick>,
    /// The names each header `#undef`s and never defines, by its path.
    undefs: HashMap<String, Vec<String>>,
}

impl HeaderFacts {
    /// The wrappers of each header by the header's file name, and its
    /// undefined names by its path.
    pub fn new(
        by_header: HashMap<String, Vec<LockHelper>>,
        undefs: HashMap<String, Vec<String>>,
    ) -> Self {
        let mut names: Vec<String> = by_header
            .values()
            .flatten()
            .map(|h| h.function.clone())
            .collect();
        names.sort_unstable();
        names.dedup();
        let matcher = AhoCorasick::new(&names).ok();
        HeaderFacts {
            by_header,
            names,
            matcher,
            undefs,
        }
    }

    /// Takes the lock wrappers and undefined names out of the headers'
    /// facts. A wrapper name two headers define differently is left out.
    pub fn take<'f>(facts: impl Iterator<Item = &'f mut FileFacts>) -> Self {
        let mut by_name: HashMap<String, Option<(String, Vec<LockHelper>)>> = HashMap::new();
        let mut undefs: HashMap<String, Vec<String>> = HashMap::new();
        for f in facts {
            let helpers = std::mem::take(&mut f.lock_helpers);
            let file = f.path.rsplit('/').next().unwrap_or(&f.path).to_string();
            let gone = std::mem::take(&mut f.undefs);
            if !gone.is_empty() {
                undefs.insert(f.path.clone(), gone);
            }
            let mut mine: HashMap<&str, Vec<LockHelper>> = HashMap::new();
            for h in helpers.iter() {
                mine.entry(h.function.as_str()).or_default().push(h.clone());
            }
            for (name, hs) in mine {
                match by_name.get_mut(name) {
                    None => {
                        by_name.insert(name.to_string(), Some((file.clone(), hs)));
                    }
                    Some(Some((_, known))) if *known == hs => {}
                    Some(slot) => *slot = None,
                }
            }
        }
        let mut out = HashMap::<String, Vec<LockHelper>>::new();
        for (file, hs) in by_name.into_values().flatten() {
            out.entry(file).or_default().extend(hs);
        }
        HeaderFacts::new(out, undefs)
    }

    /// Whether no header defines a wrapper.
    pub fn has_no_helpers(&self) -> bool {
        self.by_header.is_empty()
    }

    /// The names the header at `path` (as the facts name files)
    /// `#undef`s and never defines.
    pub fn undefs(&self, path: &str) -> &[String] {
        self.undefs.get(path).map_or(&[], Vec::as_slice)
    }

    /// The wrappers of the headers `includes` names (by file name) that
    /// `code` mentions, leaving out the names in `own`.
    pub fn offered(
        &self,
        includes: &[String],
        code: &[u8],
        own: &HashSet<String>,
    ) -> Vec<LockHelper> {
        let offered: Vec<&LockHelper> = includes
            .iter()
            .filter_map(|inc| self.by_header.get(inc))
            .flatten()
            .filter(|h| !own.contains(&h.function))
            .collect();
        let Some(matcher) = self.matcher.as_ref().filter(|_| !offered.is_empty()) else {
            return Vec::new();
        };
        let mut named = vec![false; self.names.len()];
        for m in matcher.find_overlapping_iter(code) {
            named[m.pattern().as_usize()] = true;
        }
        offered
            .into_iter()
            .filter(|h| {
                self.names
                    .binary_search(&h.function)
                    .is_ok_and(|i| named[i])
            })
            .cloned()
            .collect()
    }
}
