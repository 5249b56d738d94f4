//! The parser: the header, then one declaration per line, each handed to
//! its reader in [`decls`]; bodies (`fn`, `task`) are read
//! op by op by [`Parser::line`].

use super::decls;
use super::ops::{Block, Parsed};
use super::refs::check_refs;
use super::tokens::{err, tokenize, Line, Tok};
use super::{Op, ParseError, Scenario, MAX_NESTING};

/// The scenario's lines and where the parser stands in them.
pub(super) struct Parser<'a> {
    lines: Vec<Line<'a>>,
    pos: usize,
    last_line: usize,
}

impl<'a> Parser<'a> {
    /// The next line, if any, moving past it.
    pub(super) fn next_line(&mut self) -> Option<Line<'a>> {
        let l = self.lines.get(self.pos)?;
        let l = Line {
            no: l.no,
            toks: l.toks.clone(),
        };
        self.pos += 1;
        Some(l)
    }

    /// At least `n` tokens on the line, or the error [`Self::arity`] gives
    /// for too few (options may follow the required words).
    pub(super) fn at_least(&self, l: &Line<'a>, n: usize, usage: &str) -> Result<(), ParseError> {
        if l.toks.len() < n {
            self.arity(l, n, usage)?;
        }
        Ok(())
    }

    pub(super) fn arity(&self, l: &Line<'a>, n: usize, usage: &str) -> Result<(), ParseError> {
        if l.toks.len() == n {
            return Ok(());
        }
        if l.toks.len() > n {
            let t = l.toks[n];
            return err(
                t.line,
                t.col,
                format!("unexpected `{}`; usage: {usage}", t.text),
            );
        }
        let last = l.toks[l.toks.len() - 1];
        err(
            l.no,
            last.col + last.text.chars().count(),
            format!("missing argument; usage: {usage}"),
        )
    }

    /// Parses the body opened by `opener` up to its `end` (consumed).
    ///
    /// Nested blocks are kept on an explicit stack, not parsed by
    /// recursion, so the parser's own stack use does not grow with the
    /// nesting; a block more than [`MAX_NESTING`] deep is an error at its
    /// opener.
    pub(super) fn body(&mut self, opener: Tok<'a>) -> Result<Vec<Op>, ParseError> {
        // The open blocks, outermost first: opener, what closes it into an
        // op (none for the outermost body), and the ops parsed so far.
        let mut open: Vec<(Tok<'a>, Option<Block>, Vec<Op>)> = vec![(opener, None, Vec::new())];
        loop {
            match self.line()? {
                Parsed::Op(op) => open.last_mut().expect("a body is open").2.push(op),
                Parsed::Open(t, block) => {
                    if open.len() > MAX_NESTING {
                        return err(
                            t.line,
                            t.col,
                            format!("blocks nested more than {MAX_NESTING} deep"),
                        );
                    }
                    open.push((t, Some(block), Vec::new()));
                }
                Parsed::End => {
                    let (_, block, ops) = open.pop().expect("a body is open");
                    let Some(outer) = open.last_mut() else {
                        return Ok(ops);
                    };
                    outer
                        .2
                        .push(match block.expect("only the outermost body has no block") {
                            Block::Repeat(n) => Op::Repeat(n, ops),
                            Block::IfFailed(v) => Op::IfFailed(v, ops),
                            Block::Scope(sc) => Op::Scope(sc, ops),
                        });
                }
                Parsed::Eof => {
                    let (opener, _, _) = open.last().expect("a body is open");
                    return err(
                        self.last_line + 1,
                        1,
                        format!(
                            "`{}` opened at line {}, column {} has no `end`",
                            opener.text, opener.line, opener.col
                        ),
                    );
                }
            }
        }
    }
}

/// Parses a scenario. Never panics; errors name the line, column and problem.
pub fn parse(text: &str) -> Result<Scenario, ParseError> {
    let lines = tokenize(text);
    let last_line = text.lines().count();
    let Some(first) = lines.first() else {
        return err(1, 1, "empty scenario: expected `gfp-scenario 1`");
    };
    let h = first.toks[0];
    if h.text != "gfp-scenario" {
        return err(
            h.line,
            h.col,
            format!("expected `gfp-scenario 1`, found `{}`", h.text),
        );
    }
    match first.toks.get(1) {
        None => return err(h.line, h.col + h.text.len(), "missing format version"),
        Some(v) if v.text != "1" => {
            return err(
                v.line,
                v.col,
                format!(
                    "unsupported format version `{}` (this reader knows 1)",
                    v.text
                ),
            )
        }
        Some(_) => {}
    }
    if let Some(t) = first.toks.get(2) {
        return err(
            t.line,
            t.col,
            format!("unexpected `{}` after the version", t.text),
        );
    }
    let mut p = Parser {
        lines,
        pos: 1,
        last_line,
    };
    let mut s = Scenario::default();
    let (mut seen_machine, mut seen_name) = (false, false);
    while let Some(l) = p.next_line() {
        let t0 = l.toks[0];
        match t0.text {
            "name" => s.name = Some(decls::name_decl(&p, &l, &mut seen_name)?),
            "machine" => s.machine = decls::machine_decl(&p, &l, &mut seen_machine)?,
            "fill" => s.fills.push(decls::fill_decl(&p, &l)?),
            "swap" => s.swap = Some(decls::swap_decl(&p, &l, s.swap.is_some())?),
            "mempool" => s.mempools.push(decls::mempool_decl(&p, &l, &s.mempools)?),
            "memcg" => s.memcgs.push(decls::memcg_decl(&p, &l, &s.memcgs)?),
            "cpuset" => s.cpusets.push(decls::cpuset_decl(&p, &l, &s.cpusets)?),
            "device" => s.devices.push(decls::device_decl(&p, &l, &s.devices)?),
            "lock" => s.locks.push(decls::lock_decl(&p, &l, &s.locks)?),
            "fn" => s.functions.push(decls::fn_decl(&mut p, &l, &s.functions)?),
            "task" => s.tasks.push(decls::task_decl(&mut p, &l, &s.tasks)?),
            "gfp-scenario" => return err(t0.line, t0.col, "second `gfp-scenario` header"),
            other => {
                return err(
                    t0.line,
                    t0.col,
                    format!(
                    "unknown declaration `{other}`: expected name, machine, swap, fill, device, lock, mempool, memcg, cpuset, fn or task"
                ),
                )
            }
        }
    }
    // Names referenced by ops, checked once every declaration is known.
    check_refs(&s, text)?;
    Ok(s)
}
