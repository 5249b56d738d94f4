//! The op parser: one line of a body at a time, an op, a block opener or
//! its `end`, with one reader per family of ops.

use super::parser::Parser;
use super::tokens::{err, mask_tok, name_tok, num_tok, order_opt, Line, Tok};
use super::{Alloc, BlockIo, Kmalloc, Op, ParseError, PoolAlloc, Scope, MAX_KMALLOC, MAX_REPEAT};

/// A block opener's op, without its body yet.
pub(super) enum Block {
    Repeat(u32),
    IfFailed(String),
    Scope(Scope),
}

/// One line of a body, parsed.
pub(super) enum Parsed<'a> {
    /// A whole op.
    Op(Op),
    /// A block opener (`repeat`, `if-failed`, `scope`).
    Open(Tok<'a>, Block),
    /// `end`.
    End,
    /// No lines left.
    Eof,
}

impl<'a> Parser<'a> {
    /// Parses the next line of a body.
    pub(super) fn line(&mut self) -> Result<Parsed<'a>, ParseError> {
        let Some(l) = self.next_line() else {
            return Ok(Parsed::Eof);
        };
        let t0 = l.toks[0];
        let op = match t0.text {
            "end" => {
                self.arity(&l, 1, "end")?;
                return Ok(Parsed::End);
            }
            "lock" | "unlock" | "spin_lock" | "spin_unlock" | "spin_lock_bh" | "spin_unlock_bh" => {
                self.lock_op(&l)?
            }
            "irq_disable" | "irq_enable" | "rcu_read_lock" | "rcu_read_unlock" | "fs_call"
            | "local_bh_disable" | "local_bh_enable" | "return" => self.bare_op(&l)?,
            "io" => self.io_op(&l)?,
            "fsync" => self.fsync_op(&l)?,
            "mempool_alloc" | "kmalloc" => self.object_alloc_op(&l)?,
            "free" | "touch" | "expect-zero" | "call" => self.named_op(&l)?,
            "sleep" => {
                self.arity(&l, 2, "sleep NANOSECONDS")?;
                let t = l.toks[1];
                Op::Sleep(num_tok(&t, t.text, "number of nanoseconds")?)
            }
            "repeat" => return Ok(Parsed::Open(t0, self.repeat_block(&l)?)),
            "if-failed" => {
                self.arity(&l, 2, "if-failed VAR")?;
                let v = name_tok(&l.toks[1], "variable name")?;
                return Ok(Parsed::Open(t0, Block::IfFailed(v)));
            }
            "scope" => return Ok(Parsed::Open(t0, self.scope_block(&l)?)),
            "alloc" => self.alloc_op(&l)?,
            other => {
                return err(t0.line, t0.col, format!("unknown operation `{other}`"));
            }
        };
        Ok(Parsed::Op(op))
    }

    /// `lock`, `unlock`, `spin_lock`, `spin_unlock`, `spin_lock_bh`,
    /// `spin_unlock_bh`: the op and a lock's name.
    fn lock_op(&self, l: &Line<'a>) -> Result<Op, ParseError> {
        let t0 = l.toks[0];
        self.arity(l, 2, &format!("{} LOCK", t0.text))?;
        let n = name_tok(&l.toks[1], "lock name")?;
        Ok(match t0.text {
            "lock" => Op::Lock(n),
            "unlock" => Op::Unlock(n),
            "spin_lock" => Op::SpinLock(n),
            "spin_unlock" => Op::SpinUnlock(n),
            "spin_lock_bh" => Op::SpinLockBh(n),
            _ => Op::SpinUnlockBh(n),
        })
    }

    /// The ops that take no argument: `irq_disable`, `irq_enable`,
    /// `rcu_read_lock`, `rcu_read_unlock`, `fs_call`, `local_bh_disable`,
    /// `local_bh_enable`, `return`.
    fn bare_op(&self, l: &Line<'a>) -> Result<Op, ParseError> {
        let t0 = l.toks[0];
        self.arity(l, 1, t0.text)?;
        Ok(match t0.text {
            "irq_disable" => Op::IrqDisable,
            "irq_enable" => Op::IrqEnable,
            "rcu_read_lock" => Op::RcuReadLock,
            "rcu_read_unlock" => Op::RcuReadUnlock,
            "fs_call" => Op::FsCall,
            "local_bh_disable" => Op::BhDisable,
            "local_bh_enable" => Op::BhEnable,
            _ => Op::Return,
        })
    }

    /// `io [VAR] [dev=NAME]`.
    fn io_op(&self, l: &Line<'a>) -> Result<Op, ParseError> {
        let usage = "io [VAR] [dev=NAME]";
        let mut io = BlockIo::default();
        for t in &l.toks[1..] {
            if let Some(v) = t.text.strip_prefix("dev=") {
                if io.device.is_some() {
                    return err(t.line, t.col, "dev given twice");
                }
                io.device = Some(name_tok(&Tok { text: v, ..*t }, "device name")?);
            } else if io.var.is_none() {
                io.var = Some(name_tok(t, "variable name")?);
            } else {
                return err(
                    t.line,
                    t.col,
                    format!("unexpected `{}`; usage: {usage}", t.text),
                );
            }
        }
        Ok(Op::Io(io))
    }

    /// `fsync [VAR]`.
    fn fsync_op(&self, l: &Line<'a>) -> Result<Op, ParseError> {
        if l.toks.len() > 2 {
            self.arity(l, 2, "fsync [VAR]")?;
        }
        Ok(Op::Fsync(match l.toks.get(1) {
            Some(t) => Some(name_tok(t, "variable name")?),
            None => None,
        }))
    }

    /// `kmalloc VAR SIZE MASK [no-failure-path]` and
    /// `mempool_alloc VAR POOL MASK [no-failure-path]`: an object rather
    /// than pages.
    fn object_alloc_op(&self, l: &Line<'a>) -> Result<Op, ParseError> {
        let t0 = l.toks[0];
        let usage = if t0.text == "kmalloc" {
            "kmalloc VAR SIZE MASK [no-failure-path]"
        } else {
            "mempool_alloc VAR POOL MASK [no-failure-path]"
        };
        self.at_least(l, 4, usage)?;
        if l.toks.len() > 5 {
            self.arity(l, 5, usage)?;
        }
        let var = name_tok(&l.toks[1], "variable name")?;
        let mask = mask_tok(&l.toks[3])?;
        let no_failure_path = match l.toks.get(4) {
            None => false,
            Some(t) if t.text == "no-failure-path" => true,
            Some(t) => {
                return err(
                    t.line,
                    t.col,
                    format!("unexpected `{}`: expected no-failure-path", t.text),
                )
            }
        };
        if t0.text == "kmalloc" {
            let t = l.toks[2];
            let size: u32 = num_tok(&t, t.text, "size in bytes")?;
            if size == 0 || size > MAX_KMALLOC {
                return err(
                    t.line,
                    t.col,
                    format!("kmalloc size {size}: need 1..={MAX_KMALLOC} bytes"),
                );
            }
            Ok(Op::Kmalloc(Kmalloc {
                var,
                size,
                mask,
                no_failure_path,
            }))
        } else {
            Ok(Op::MempoolAlloc(PoolAlloc {
                var,
                pool: name_tok(&l.toks[2], "pool name")?,
                mask,
                no_failure_path,
            }))
        }
    }

    /// `free`, `touch`, `expect-zero`, `call`: the op and a name.
    fn named_op(&self, l: &Line<'a>) -> Result<Op, ParseError> {
        let t0 = l.toks[0];
        self.arity(l, 2, &format!("{} NAME", t0.text))?;
        let n = name_tok(&l.toks[1], "name")?;
        Ok(match t0.text {
            "free" => Op::Free(n),
            "touch" => Op::Touch(n),
            "expect-zero" => Op::ExpectZero(n),
            _ => Op::Call(n),
        })
    }

    /// `repeat N`, opening a block.
    fn repeat_block(&self, l: &Line<'a>) -> Result<Block, ParseError> {
        self.arity(l, 2, "repeat N")?;
        let t = l.toks[1];
        let n: u32 = num_tok(&t, t.text, "repeat count")?;
        if n == 0 || n > MAX_REPEAT {
            return err(t.line, t.col, format!("repeat {n}: need 1..={MAX_REPEAT}"));
        }
        Ok(Block::Repeat(n))
    }

    /// `scope set|clear FLAGS` or `scope nofs|noio|noreclaim|pin`, opening
    /// a block.
    fn scope_block(&self, l: &Line<'a>) -> Result<Block, ParseError> {
        self.at_least(
            l,
            2,
            "scope set|clear FLAGS | scope nofs|noio|noreclaim|pin",
        )?;
        let k = l.toks[1];
        let scope = match k.text {
            "set" | "clear" => {
                self.arity(l, 3, &format!("scope {} FLAGS", k.text))?;
                let m = mask_tok(&l.toks[2])?;
                if k.text == "set" {
                    Scope::Set(m)
                } else {
                    Scope::Clear(m)
                }
            }
            "nofs" | "noio" | "noreclaim" | "pin" => {
                self.arity(l, 2, &format!("scope {}", k.text))?;
                match k.text {
                    "nofs" => Scope::Nofs,
                    "noio" => Scope::Noio,
                    "noreclaim" => Scope::Noreclaim,
                    _ => Scope::Pin,
                }
            }
            other => {
                return err(
                    k.line,
                    k.col,
                    format!(
                    "unknown scope `{other}`: expected set, clear, nofs, noio, noreclaim or pin"
                ),
                )
            }
        };
        Ok(Block::Scope(scope))
    }

    /// `alloc VAR MASK [order=N] [node=N] [no-failure-path]`.
    fn alloc_op(&self, l: &Line<'a>) -> Result<Op, ParseError> {
        self.at_least(l, 3, "alloc VAR MASK [order=N] [node=N] [no-failure-path]")?;
        let var = name_tok(&l.toks[1], "variable name")?;
        let mask = mask_tok(&l.toks[2])?;
        let mut a = Alloc {
            var,
            mask,
            order: 0,
            node: None,
            no_failure_path: false,
        };
        let (mut seen_order, mut seen_node, mut seen_nfp) = (false, false, false);
        for t in &l.toks[3..] {
            if let Some(v) = t.text.strip_prefix("order=") {
                let o = order_opt(t, v, &mut seen_order)?;
                a.order = o;
            } else if let Some(v) = t.text.strip_prefix("node=") {
                if seen_node {
                    return err(t.line, t.col, "node given twice");
                }
                seen_node = true;
                a.node = Some(num_tok(t, v, "node")?);
            } else if t.text == "no-failure-path" {
                if seen_nfp {
                    return err(t.line, t.col, "no-failure-path given twice");
                }
                seen_nfp = true;
                a.no_failure_path = true;
            } else {
                return err(
                    t.line,
                    t.col,
                    format!(
                        "unexpected `{}`: expected order=N, node=N or no-failure-path",
                        t.text
                    ),
                );
            }
        }
        Ok(Op::Alloc(a))
    }
}
