//! The walk's scope calls: the `memalloc_*` saves and restores, and the
//! calls of [scope helpers](crate::scope_helpers) that open or close a
//! scope for their caller.

use tree_sitter::Node;

use super::{lock_key, pf_names, text, Walker};
use crate::facts::Scope;
use crate::flow::Ev;
use crate::scope_helpers::{Failure, Object, ScopeHelper};
use crate::vocab::ScopeOp;

impl Walker<'_> {
    /// A call of a scope helper, already recorded as a call: an opener
    /// opens its scope after it returns, keyed by its object (what its
    /// closer will be given), a closer closes the scope of its object.
    pub(super) fn helper_call(
        &mut self,
        h: &ScopeHelper,
        args: &[Node<'_>],
        target: Option<&str>,
        ln: u32,
    ) {
        let assigned = target.filter(|t| *t != "return").map(lock_key);
        let object = match h.object {
            Object::Returned => assigned.clone(),
            Object::Arg(i) => args.get(i as usize).map(|a| lock_key(&text(self.src, *a))),
        };
        if !h.opens {
            self.emit(Ev::Restore {
                var: object,
                flags: Vec::new(),
                line: ln,
                op: h.function.clone(),
                helper: true,
            });
            return;
        }
        // One object is one scope, however many calls open it (a retry
        // that allocates the transaction again on another path): the paths
        // then agree on what is held where they join.
        let same =
            self.f.scopes.iter().position(|s| {
                s.helper && object.is_some() && s.var == object && s.flags == h.flags
            });
        let id = match same {
            Some(i) => i as u16,
            None => {
                let Ok(id) = u16::try_from(self.f.scopes.len()) else {
                    return;
                };
                self.f.scopes.push(Scope {
                    var: object.clone(),
                    helper: true,
                    ..Scope::opened(h.flags.clone(), h.function.clone(), ln)
                });
                id
            }
        };
        self.emit(Ev::Save(id));
        let status = match h.fails {
            Failure::Never => None,
            Failure::ErrPtr => object,
            Failure::NonZero => assigned,
        };
        if let Some(status) = status {
            self.openers.push((status, h.fails, id));
        }
    }

    pub(super) fn scope_call(
        &mut self,
        op: ScopeOp,
        name: &str,
        args: &[Node<'_>],
        (target, discarded): (Option<&str>, bool),
        ln: u32,
    ) {
        let open = |w: &mut Self, flags: Vec<String>| {
            let escapes = match target {
                None | Some("return") => true,
                Some(t) => t.contains("->") || t.contains('.') || t.contains('['),
            };
            let id = w.f.scopes.len() as u16;
            w.f.scopes.push(Scope {
                var: target.filter(|t| *t != "return").map(lock_key),
                escapes,
                discarded: target.is_none() && discarded,
                ..Scope::opened(flags, name.to_string(), ln)
            });
            w.emit(Ev::Save(id));
        };
        match op {
            ScopeOp::Save(flags) => open(self, flags.iter().map(|s| s.to_string()).collect()),
            ScopeOp::SaveFlags => {
                let flags = args
                    .first()
                    .map(|a| pf_names(&text(self.src, *a)))
                    .unwrap_or_default();
                open(self, flags);
            }
            ScopeOp::Restore => {
                let saved = args.first().map(|a| text(self.src, *a)).unwrap_or_default();
                self.emit(Ev::restore(
                    Some(lock_key(&saved)),
                    Vec::new(),
                    ln,
                    name.to_string(),
                ));
            }
            ScopeOp::RestoreFlags => {
                let flags = args
                    .get(1)
                    .map(|a| pf_names(&text(self.src, *a)))
                    .unwrap_or_default();
                self.emit(Ev::restore(None, flags, ln, name.to_string()));
            }
            ScopeOp::Do => {
                let flags = args
                    .first()
                    .map(|a| pf_names(&text(self.src, *a)))
                    .unwrap_or_default();
                let id = self.f.scopes.len() as u16;
                self.f
                    .scopes
                    .push(Scope::opened(flags.clone(), name.to_string(), ln));
                self.emit(Ev::Save(id));
                for a in args.iter().skip(1) {
                    self.expr_under("argument_list", *a, None);
                }
                self.emit(Ev::restore(None, flags, ln, name.to_string()));
            }
        }
    }
}
