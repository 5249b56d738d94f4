//! What keeps the simulator's steps cheap: blocks of operations compiled
//! once (their nested bodies shared, not cloned on every entry) and a
//! hash map with a cheap hasher for per-task variables.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::rc::Rc;

use crate::format::Op;

/// The Fx hash (rustc's): a multiply and a rotate per word. Fine for the
/// short, trusted keys here (variable names); nothing iterates these maps,
/// so their order cannot reach a report.
#[derive(Default, Clone, Copy)]
pub(super) struct FxHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline(always)]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A `HashMap` with [`FxHasher`].
pub(super) type FxHashMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// No nested block.
pub(super) const NO_BLOCK: u32 = u32::MAX;

/// A block of operations (a task's body, a function, the body of a
/// `scope`, `repeat` or `if-failed`), compiled once: per operation, the
/// block it enters (its nested body; for `call`, the function's block).
#[derive(Clone)]
pub(super) struct Block {
    pub(super) ops: Rc<[Op]>,
    pub(super) nested: Rc<[u32]>,
}

/// Every block of a simulation, by index.
#[derive(Default)]
pub(super) struct Blocks {
    pub(super) list: Vec<Block>,
    /// Function name -> its block.
    pub(super) functions: FxHashMap<String, u32>,
}

impl Blocks {
    /// Reserves a block for each function (so that calls, recursive ones
    /// included, resolve), then compiles their bodies.
    pub(super) fn with_functions<'a>(
        fns: impl Iterator<Item = (&'a str, &'a [Op])> + Clone,
    ) -> Blocks {
        let mut b = Blocks::default();
        for (name, _) in fns.clone() {
            let idx = b.list.len() as u32;
            b.functions.insert(name.to_string(), idx);
            b.list.push(Block {
                ops: Rc::from(Vec::new()),
                nested: Rc::from(Vec::new()),
            });
        }
        for (name, body) in fns {
            let block = b.compile_block(Rc::from(body.to_vec()));
            let idx = b.functions[name];
            b.list[idx as usize] = block;
        }
        b
    }

    /// Compiles `ops` into a new block; its index.
    pub(super) fn compile(&mut self, ops: Rc<[Op]>) -> u32 {
        let block = self.compile_block(ops);
        self.list.push(block);
        (self.list.len() - 1) as u32
    }

    fn compile_block(&mut self, ops: Rc<[Op]>) -> Block {
        let nested: Vec<u32> = ops
            .iter()
            .map(|op| match op {
                Op::Scope(_, body) | Op::Repeat(_, body) | Op::IfFailed(_, body) => {
                    self.compile(Rc::from(body.as_slice()))
                }
                Op::Call(n) => self.functions.get(n.as_str()).copied().unwrap_or(NO_BLOCK),
                _ => NO_BLOCK,
            })
            .collect();
        Block {
            ops,
            nested: Rc::from(nested),
        }
    }

    /// Block `b`.
    #[inline]
    pub(super) fn get(&self, b: u32) -> &Block {
        &self.list[b as usize]
    }
}
