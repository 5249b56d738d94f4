//! What headers tell the files that include them, learnt in a first wave
//! over the headers before the source files are read: their lock wrappers
//! (static inlines that take or drop a lock for their caller), their scope
//! helpers (static inlines that open or close an allocation scope for
//! their caller, see [`crate::scope_helpers`]) and the names they `#undef`
//! for good (`#undef EXT2FS_DEBUG` in `ext2.h`).
//!
//! Wrappers and helpers are offered by header file name, as `#include`
//! lines name them (a name two headers of the same file name disagree on
//! is left out); undefined names only through a quoted include that
//! resolves to the header itself, since they switch code off.

use std::collections::{HashMap, HashSet};

use aho_corasick::AhoCorasick;

use crate::facts::FileFacts;
use crate::lexical::LockHelper;
use crate::scope_helpers::ScopeHelper;

/// What a header offers the files that include it, by the header's file
/// name, with one automaton over all the names so that a file is searched
/// once for the ones it mentions.
struct Offers<T> {
    by_header: HashMap<String, Vec<T>>,
    /// Every name offered, sorted: the automaton's patterns in order.
    names: Vec<String>,
    matcher: Option<AhoCorasick>,
}

impl<T> Default for Offers<T> {
    fn default() -> Self {
        Offers {
            by_header: HashMap::new(),
            names: Vec::new(),
            matcher: None,
        }
    }
}

/// A helper a header offers under the name of the function it is.
trait Offered: Clone + PartialEq {
    /// The function's name.
    fn name(&self) -> &str;
}

impl Offered for LockHelper {
    fn name(&self) -> &str {
        &self.function
    }
}

impl Offered for ScopeHelper {
    fn name(&self) -> &str {
        &self.function
    }
}

impl<T: Offered> Offers<T> {
    fn new(by_header: HashMap<String, Vec<T>>) -> Self {
        let mut names: Vec<String> = by_header
            .values()
            .flatten()
            .map(|h| h.name().to_string())
            .collect();
        names.sort_unstable();
        names.dedup();
        let matcher = AhoCorasick::new(&names).ok();
        Offers {
            by_header,
            names,
            matcher,
        }
    }

    /// The offers of each header's facts (`items`: the header's file name
    /// and what it offers), by header file name. A name two headers offer
    /// differently is left out.
    fn collect(items: Vec<(String, Vec<T>)>) -> Self {
        let mut by_name: HashMap<String, Option<(String, Vec<T>)>> = HashMap::new();
        for (file, offered) in items {
            let mut mine: HashMap<String, Vec<T>> = HashMap::new();
            for h in offered {
                mine.entry(h.name().to_string()).or_default().push(h);
            }
            for (name, hs) in mine {
                match by_name.get_mut(&name) {
                    None => {
                        by_name.insert(name, Some((file.clone(), hs)));
                    }
                    Some(Some((_, known))) if *known == hs => {}
                    Some(slot) => *slot = None,
                }
            }
        }
        let mut out = HashMap::<String, Vec<T>>::new();
        for (file, hs) in by_name.into_values().flatten() {
            out.entry(file).or_default().extend(hs);
        }
        Offers::new(out)
    }

    /// The offers of the headers `includes` names (by file name) that
    /// `code` mentions, leaving out the names in `own`.
    fn offered(&self, includes: &[String], code: &[u8], own: &HashSet<String>) -> Vec<T> {
        let offered: Vec<&T> = includes
            .iter()
            .filter_map(|inc| self.by_header.get(inc))
            .flatten()
            .filter(|h| !own.contains(h.name()))
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
                    .binary_search_by(|n| n.as_str().cmp(h.name()))
                    .is_ok_and(|i| named[i])
            })
            .cloned()
            .collect()
    }
}

/// The headers' lock wrappers, scope helpers and undefined names.
#[derive(Default)]
pub struct HeaderFacts {
    locks: Offers<LockHelper>,
    scopes: Offers<ScopeHelper>,
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
        HeaderFacts {
            locks: Offers::new(by_header),
            scopes: Offers::default(),
            undefs,
        }
    }

    /// Takes the lock wrappers, scope helpers and undefined names out of
    /// the headers' facts. A name two headers define differently is left
    /// out.
    pub fn take<'f>(facts: impl Iterator<Item = &'f mut FileFacts>) -> Self {
        let mut locks = Vec::new();
        let mut scopes = Vec::new();
        let mut undefs: HashMap<String, Vec<String>> = HashMap::new();
        for f in facts {
            let file = f.path.rsplit('/').next().unwrap_or(&f.path).to_string();
            let gone = std::mem::take(&mut f.undefs);
            if !gone.is_empty() {
                undefs.insert(f.path.clone(), gone);
            }
            let helpers = std::mem::take(&mut f.lock_helpers);
            if !helpers.is_empty() {
                locks.push((file.clone(), helpers.to_vec()));
            }
            let helpers = std::mem::take(&mut f.scope_helpers);
            if !helpers.is_empty() {
                scopes.push((file, helpers));
            }
        }
        HeaderFacts {
            locks: Offers::collect(locks),
            scopes: Offers::collect(scopes),
            undefs,
        }
    }

    /// Whether no header defines a lock wrapper.
    pub fn has_no_helpers(&self) -> bool {
        self.locks.by_header.is_empty()
    }

    /// The names the header at `path` (as the facts name files)
    /// `#undef`s and never defines.
    pub fn undefs(&self, path: &str) -> &[String] {
        self.undefs.get(path).map_or(&[], Vec::as_slice)
    }

    /// The lock wrappers of the headers `includes` names (by file name)
    /// that `code` mentions, leaving out the names in `own`.
    pub fn offered(
        &self,
        includes: &[String],
        code: &[u8],
        own: &HashSet<String>,
    ) -> Vec<LockHelper> {
        self.locks.offered(includes, code, own)
    }

    /// The scope helpers of the headers `includes` names that `code`
    /// mentions, leaving out the names in `own`.
    pub fn scope_helpers(
        &self,
        includes: &[String],
        code: &[u8],
        own: &HashSet<String>,
    ) -> Vec<ScopeHelper> {
        self.scopes.offered(includes, code, own)
    }
}
