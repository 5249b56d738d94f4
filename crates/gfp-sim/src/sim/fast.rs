//! What keeps the simulator's steps cheap: blocks of operations compiled
//! once (their nested bodies shared, not cloned on every entry, their
//! variables interned to slots) and a cheap hasher for the few maps.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::rc::Rc;

use crate::format::Op;

/// The Fx hash (rustc's): a multiply and a rotate per word. Fine for the
/// short, trusted keys here (variable and function names); nothing
/// iterates these maps, so their order cannot reach a report.
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
        let mut w = 0u64;
        for (k, &b) in chunks.remainder().iter().enumerate() {
            w |= u64::from(b) << (8 * k);
        }
        if !chunks.remainder().is_empty() {
            self.add(w);
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

/// No nested block, no variable.
pub(super) const NONE: u32 = u32::MAX;

/// What the simulator precomputes for one operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct OpInfo {
    /// The block it enters: its nested body (`scope`, `repeat`,
    /// `if-failed`) or, for `call`, the function's block; [`NONE`].
    pub(super) block: u32,
    /// The slot of the variable it names; [`NONE`].
    pub(super) var: u32,
}

/// Variable names interned to slots: a task's variables are a vector
/// indexed by slot.
#[derive(Default)]
pub(super) struct VarNames {
    ids: FxHashMap<String, u32>,
}

impl VarNames {
    /// The slot of `name`, made on first use.
    pub(super) fn id(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.ids.len() as u32;
        self.ids.insert(name.to_string(), id);
        id
    }

    /// The slot of `name`, if it has one.
    pub(super) fn find(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }
}

/// A block of operations (a task's body, a function, the body of a
/// `scope`, `repeat` or `if-failed`), compiled once.
#[derive(Clone)]
pub(super) struct Block {
    pub(super) ops: Rc<[Op]>,
    /// Per operation.
    pub(super) info: Rc<[OpInfo]>,
}

/// Every block of a simulation, by index, and the variable names. Blocks
/// are never dropped before the simulation: their operations (and the
/// names in them) stay where they are.
#[derive(Default)]
pub(super) struct Blocks {
    pub(super) list: Vec<Block>,
    /// Function name -> its block.
    pub(super) functions: FxHashMap<String, u32>,
    pub(super) vars: VarNames,
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
                info: Rc::from(Vec::new()),
            });
        }
        for (name, body) in fns {
            let block = b.compile_block(Rc::from(body));
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
        let info: Vec<OpInfo> = ops
            .iter()
            .map(|op| {
                let block = match op {
                    Op::Scope(_, body) | Op::Repeat(_, body) | Op::IfFailed(_, body) => {
                        self.compile(Rc::from(body.as_slice()))
                    }
                    Op::Call(n) => self.functions.get(n.as_str()).copied().unwrap_or(NONE),
                    _ => NONE,
                };
                OpInfo {
                    block,
                    var: super::op_var_name(op).map_or(NONE, |v| self.vars.id(v)),
                }
            })
            .collect();
        Block {
            ops,
            info: Rc::from(info),
        }
    }

    /// Block `b`.
    #[inline]
    pub(super) fn get(&self, b: u32) -> &Block {
        &self.list[b as usize]
    }
}
