//! Gfp argument expressions, evaluated with the gfp crate's profile of the
//! kernel scanned: names, numbers, `|`, `& ~`, casts, and ternaries giving
//! both arms. A mask that comes from the function's own parameter stays
//! symbolic (`gfp | __GFP_ZERO`), so a caller's argument can be put in.

use std::collections::HashMap;
use std::sync::RwLock;

use gfp::{Gfp, Profile};

use crate::facts::Function;

/// Where an alternative's mask starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Base {
    /// A constant (the `or` bits are the whole mask).
    Const,
    /// The function's parameter at this index.
    Param(u8),
    /// Something the scanner cannot evaluate (a structure field, a call).
    Unknown,
}

/// One possible mask: `(base & and) | or`, taken when every condition
/// (parameter index, truth) holds.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Alt {
    /// The starting point.
    pub base: Base,
    /// Bits kept of the base.
    pub and: u32,
    /// Bits added.
    pub or: u32,
    /// Conditions on the function's parameters for this alternative.
    pub when: Vec<(u8, bool)>,
}

impl Alt {
    fn constant(g: Gfp) -> Alt {
        Alt {
            base: Base::Const,
            and: 0,
            or: g.bits(),
            when: Vec::new(),
        }
    }

    /// The mask, when it is a constant.
    pub fn constant_mask(&self) -> Option<Gfp> {
        (self.base == Base::Const).then(|| Gfp::from_bits_retain(self.or))
    }

    fn or_const(mut self, c: u32) -> Alt {
        self.or |= c;
        self
    }

    fn and_const(mut self, c: u32) -> Alt {
        self.and &= c;
        self.or &= c;
        self
    }
}

/// The possible masks of an expression (at most [`MAX_ALTS`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Value(pub Vec<Alt>);

/// Marks a condition on a parameter as a bit test (`flags & X`) rather than
/// its truth: set in the parameter index of [`Alt::when`], so such
/// parameters are the first 127.
pub const BIT_TEST: u8 = 0x80;

/// How many alternatives a value keeps before it is cut to "unknown".
pub const MAX_ALTS: usize = 8;

impl Value {
    /// A constant.
    pub fn constant(g: Gfp) -> Value {
        Value(vec![Alt::constant(g)])
    }

    /// Nothing known.
    pub fn unknown() -> Value {
        Value(vec![Alt {
            base: Base::Unknown,
            and: !0,
            or: 0,
            when: Vec::new(),
        }])
    }

    /// The function's parameter `i`.
    pub fn param(i: u8) -> Value {
        Value(vec![Alt {
            base: Base::Param(i),
            and: !0,
            or: 0,
            when: Vec::new(),
        }])
    }

    /// Whether some alternative depends on a parameter.
    pub fn depends_on_params(&self) -> bool {
        self.0
            .iter()
            .any(|a| matches!(a.base, Base::Param(_)) || !a.when.is_empty())
    }

    /// The constant masks among the alternatives.
    pub fn constants(&self) -> impl Iterator<Item = Gfp> + '_ {
        self.0.iter().filter_map(Alt::constant_mask)
    }

    /// The constant masks that hold whatever the function's parameters are.
    pub fn unconditional_constants(&self) -> impl Iterator<Item = Gfp> + '_ {
        self.0
            .iter()
            .filter(|a| a.when.is_empty())
            .filter_map(Alt::constant_mask)
    }

    /// Whether nothing at all is known.
    pub fn is_unknown(&self) -> bool {
        self.0.iter().all(|a| a.base == Base::Unknown)
    }

    fn push_all(&mut self, other: Value) {
        for a in other.0 {
            if !self.0.contains(&a) {
                self.0.push(a);
            }
        }
        if self.0.len() > MAX_ALTS {
            *self = Value::unknown();
        }
    }

    fn map(self, f: impl Fn(Alt) -> Alt) -> Value {
        Value(self.0.into_iter().map(f).collect())
    }

    /// Applies a scope: clears and sets bits of every alternative.
    pub fn scoped(self, clears: Gfp, sets: Gfp) -> Value {
        self.map(|a| a.and_const(!clears.bits()).or_const(sets.bits()))
    }

    /// Puts a caller's arguments in: `params[i]` is the caller's value of
    /// parameter `i`, `truth[i]` what the caller's argument says of its truth.
    pub fn bind(&self, params: &[Value], truth: &[Truth]) -> Value {
        let mut out = Value::default();
        'alts: for a in &self.0 {
            let mut when = Vec::new();
            for &(p, want) in &a.when {
                if p & BIT_TEST != 0 {
                    // A bit test: a zero argument makes it false; any other
                    // value could have the bit or not.
                    let t = truth
                        .get((p & !BIT_TEST) as usize)
                        .copied()
                        .unwrap_or(Truth::Unknown);
                    match t {
                        Truth::Known(false) if want => continue 'alts,
                        Truth::Param(q, false) if q < BIT_TEST => when.push((q | BIT_TEST, want)),
                        _ => {}
                    }
                    continue;
                }
                match truth.get(p as usize).copied().unwrap_or(Truth::Unknown) {
                    Truth::Known(t) if t != want => continue 'alts,
                    Truth::Known(_) | Truth::Unknown => {}
                    Truth::Param(q, neg) => when.push((q, want != neg)),
                }
            }
            let base = match a.base {
                Base::Param(i) => params
                    .get(i as usize)
                    .cloned()
                    .unwrap_or_else(Value::unknown),
                Base::Const => Value(vec![Alt {
                    base: Base::Const,
                    and: 0,
                    or: 0,
                    when: Vec::new(),
                }]),
                Base::Unknown => Value::unknown(),
            };
            for mut b in base.0 {
                b = b.and_const(a.and).or_const(a.or);
                b.when.extend(when.iter().copied());
                if !out.0.contains(&b) {
                    out.0.push(b);
                }
            }
        }
        if out.0.len() > MAX_ALTS {
            return Value::unknown();
        }
        out
    }
}

/// What a call's argument says of a parameter's truth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Truth {
    /// A constant: `true`, `false`, `0`, `1`, `NULL`.
    Known(bool),
    /// The caller's own parameter (negated if written `!p`).
    Param(u8, bool),
    /// Anything else.
    Unknown,
}

/// The truth an argument expression states, in the caller's terms.
pub fn truth_of(arg: &str, caller: &Function) -> Truth {
    let a = arg.trim();
    match a {
        "true" | "1" => return Truth::Known(true),
        "false" | "0" | "NULL" => return Truth::Known(false),
        _ => {}
    }
    if let Ok(n) = a.parse::<i64>() {
        return Truth::Known(n != 0);
    }
    let (neg, name) = match a.strip_prefix('!') {
        Some(rest) => (true, rest.trim()),
        None => (false, a),
    };
    match caller.params.iter().position(|p| p.name == name) {
        Some(i) if i < 256 => Truth::Param(i as u8, neg),
        _ => Truth::Unknown,
    }
}

/// Evaluates gfp expressions for one kernel profile.
pub struct Evaluator {
    profile: Profile,
    names: RwLock<HashMap<String, Option<Gfp>>>,
}

impl Evaluator {
    /// An evaluator for `profile`.
    pub fn new(profile: Profile) -> Evaluator {
        Evaluator {
            profile,
            names: RwLock::new(HashMap::new()),
        }
    }

    /// The profile.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// A gfp name in the kernel's layout, translated to the in-process one.
    pub fn name(&self, name: &str) -> Option<Gfp> {
        if let Ok(m) = self.names.read() {
            if let Some(v) = m.get(name) {
                return *v;
            }
        }
        let v = self
            .profile
            .lookup(name)
            .map(|bits| self.profile.to_native(bits).gfp);
        if let Ok(mut m) = self.names.write() {
            m.insert(name.to_string(), v);
        }
        v
    }

    /// Evaluates `expr` written in function `f`, with every value its
    /// variables are given anywhere in the function.
    pub fn eval(&self, expr: &str, f: &Function) -> Value {
        self.eval_at(expr, f, None)
    }

    /// Evaluates `expr` used at line `at` of function `f`: a variable has
    /// the values the assignments before that line leave it, an assignment
    /// made on every path replacing the earlier ones (`alloc_flags &=
    /// (GFP_ATOMIC | GFP_KERNEL);` takes `__GFP_NOFAIL` out of what the
    /// caller passed).
    pub fn eval_at(&self, expr: &str, f: &Function, at: Option<u32>) -> Value {
        let toks = tokens(expr);
        let mut p = Parser {
            toks: &toks,
            pos: 0,
            ev: self,
            f,
            depth: 0,
            bind: None,
            at,
        };
        let v = p.ternary();
        if p.pos != toks.len() {
            return Value::unknown();
        }
        v
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Num(u64),
    Op(char),
}

fn tokens(s: &str) -> Vec<Tok> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let st = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(Tok::Ident(s[st..i].to_string()));
        } else if c.is_ascii_digit() {
            let st = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric()) {
                i += 1;
            }
            let t = s[st..i].trim_end_matches(['u', 'U', 'l', 'L']);
            let n = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
                u64::from_str_radix(h, 16).ok()
            } else {
                t.parse().ok()
            };
            match n {
                Some(n) => out.push(Tok::Num(n)),
                None => out.push(Tok::Op('?')),
            }
        } else if c == b'-' && b.get(i + 1) == Some(&b'>') {
            out.push(Tok::Op('>'));
            i += 2;
        } else {
            // `||` and `&&` become one token each so that `a || b` is not
            // read as a mask OR.
            if (c == b'|' || c == b'&') && b.get(i + 1) == Some(&c) {
                out.push(Tok::Op(if c == b'|' { 'o' } else { 'a' }));
                i += 2;
                continue;
            }
            out.push(Tok::Op(c as char));
            i += 1;
        }
    }
    out
}

struct Parser<'a> {
    toks: &'a [Tok],
    pos: usize,
    ev: &'a Evaluator,
    f: &'a Function,
    depth: u32,
    bind: Option<(&'a str, &'a Value)>,
    /// The line the expression is used on: only the assignments before it
    /// count (`None`: every assignment, any order).
    at: Option<u32>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tok::Op(c)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn ternary(&mut self) -> Value {
        let start = self.pos;
        let cond = self.or();
        if !self.eat('?') {
            return cond;
        }
        let cond_toks = &self.toks[start..self.pos - 1];
        let then = self.ternary();
        if !self.eat(':') {
            return Value::unknown();
        }
        let els = self.ternary();
        // A condition on one of the function's parameters is kept, so that a
        // caller passing a constant picks its arm.
        let cond_param = match cond_toks {
            [Tok::Ident(n)] => self.param_index(n).map(|i| (i, true)),
            [Tok::Op('!'), Tok::Ident(n)] => self.param_index(n).map(|i| (i, false)),
            [Tok::Op('('), Tok::Ident(n), Tok::Op(')')] => self.param_index(n).map(|i| (i, true)),
            // `flags & X ? A : B`: a bit test of a parameter. Only a caller
            // passing 0 decides it (the else arm); see `BIT_TEST`.
            [Tok::Ident(n), Tok::Op('&'), ..] | [Tok::Op('('), Tok::Ident(n), Tok::Op('&'), ..] => {
                self.param_index(n)
                    .filter(|&i| i < BIT_TEST)
                    .map(|i| (i | BIT_TEST, true))
            }
            _ => None,
        };
        let _ = cond;
        let mut out = Value::default();
        match cond_param {
            Some((p, polarity)) => {
                out.push_all(then.map(|mut a| {
                    a.when.push((p, polarity));
                    a
                }));
                out.push_all(els.map(|mut a| {
                    a.when.push((p, !polarity));
                    a
                }));
            }
            None => {
                out.push_all(then);
                out.push_all(els);
            }
        }
        out
    }

    fn param_index(&self, name: &str) -> Option<u8> {
        self.f
            .params
            .iter()
            .position(|p| p.name == name)
            .filter(|&i| i < 256)
            .map(|i| i as u8)
    }

    fn or(&mut self) -> Value {
        let mut v = self.and();
        while self.eat('|') {
            let r = self.and();
            v = combine(v, r, |a, b| a | b);
        }
        if matches!(
            self.peek(),
            Some(Tok::Op('o' | 'a' | '=' | '<' | '>' | '+' | '-' | '*' | '/'))
        ) {
            // Logic or arithmetic: not a mask.
            self.pos = self.toks.len();
            return Value::unknown();
        }
        v
    }

    fn and(&mut self) -> Value {
        let mut v = self.unary();
        while self.eat('&') {
            let r = self.unary();
            v = combine(v, r, |a, b| a & b);
        }
        v
    }

    fn unary(&mut self) -> Value {
        self.depth += 1;
        if self.depth > 64 {
            self.pos = self.toks.len();
            return Value::unknown();
        }
        let v = self.unary_inner();
        self.depth -= 1;
        v
    }

    fn unary_inner(&mut self) -> Value {
        if self.eat('~') {
            let v = self.unary();
            return v.map(|a| match a.base {
                Base::Const => Alt {
                    or: !a.or & gfp::Gfp::VALID.bits(),
                    ..a
                },
                _ => Alt {
                    base: Base::Unknown,
                    and: !0,
                    or: 0,
                    when: a.when,
                },
            });
        }
        if self.eat('(') {
            // A cast: `(gfp_t)`, `(__force gfp_t)`.
            if let (Some(Tok::Ident(a)), Some(Tok::Op(')'))) =
                (self.toks.get(self.pos), self.toks.get(self.pos + 1))
            {
                if a == "gfp_t" {
                    self.pos += 2;
                    return self.unary();
                }
            }
            if let (Some(Tok::Ident(a)), Some(Tok::Ident(b)), Some(Tok::Op(')'))) = (
                self.toks.get(self.pos),
                self.toks.get(self.pos + 1),
                self.toks.get(self.pos + 2),
            ) {
                if a == "__force" && b == "gfp_t" {
                    self.pos += 3;
                    return self.unary();
                }
            }
            let v = self.ternary();
            if !self.eat(')') {
                self.pos = self.toks.len();
                return Value::unknown();
            }
            return v;
        }
        match self.peek().cloned() {
            Some(Tok::Num(n)) => {
                self.pos += 1;
                match u32::try_from(n) {
                    Ok(bits) => Value::constant(self.ev.profile.to_native(bits).gfp),
                    Err(_) => Value::unknown(),
                }
            }
            Some(Tok::Ident(name)) => {
                self.pos += 1;
                if self.peek() == Some(&Tok::Op('(')) {
                    return self.call(&name);
                }
                if matches!(self.peek(), Some(Tok::Op('.' | '>' | '['))) {
                    // A structure field or an array element.
                    self.skip_postfix();
                    return Value::unknown();
                }
                self.ident(&name)
            }
            _ => {
                self.pos = self.toks.len();
                Value::unknown()
            }
        }
    }

    fn skip_postfix(&mut self) {
        while let Some(t) = self.peek() {
            match t {
                Tok::Op('.') | Tok::Op('>') => {
                    self.pos += 1;
                    if let Some(Tok::Ident(_)) = self.peek() {
                        self.pos += 1;
                    }
                }
                Tok::Op('[') => {
                    let mut depth = 0;
                    while let Some(t) = self.peek().cloned() {
                        self.pos += 1;
                        match t {
                            Tok::Op('[') => depth += 1,
                            Tok::Op(']') => {
                                depth -= 1;
                                if depth == 0 {
                                    break;
                                }
                            }
                            _ => {}
                        }
                    }
                }
                _ => break,
            }
        }
    }

    fn call(&mut self, name: &str) -> Value {
        // The argument list, as one value per argument.
        self.eat('(');
        let mut args = Vec::new();
        if !self.eat(')') {
            loop {
                args.push(self.ternary());
                if self.eat(',') {
                    continue;
                }
                if !self.eat(')') {
                    self.pos = self.toks.len();
                    return Value::unknown();
                }
                break;
            }
        }
        match name {
            // Helpers that return their mask argument, or a mask the scanner
            // knows: the scope the task is in is applied separately.
            "current_gfp_context" | "memalloc_noio_flags" if args.len() == 1 => {
                args.pop().unwrap_or_else(Value::unknown)
            }
            _ => Value::unknown(),
        }
    }

    fn ident(&mut self, name: &str) -> Value {
        if let Some((n, v)) = self.bind {
            if n == name {
                return v.clone();
            }
        }
        let param = self.param_index(name);
        if self.depth < 8 {
            if let Some(v) = self.assigned(name, param) {
                return v;
            }
        }
        if let Some(i) = param {
            return Value::param(i);
        }
        if let Some(g) = self.ev.name(name) {
            return Value::constant(g);
        }
        Value::unknown()
    }

    /// The values of a variable (or a parameter) that is assigned in the
    /// function, `None` when it is not. The assignments are taken in order
    /// from the parameter's value (nothing, for a local): one made on every
    /// path replaces the values so far, any other adds to them; `x |= A`
    /// and `x &= A` apply to the values so far. With a line, the values
    /// after the assignments before it; without, every value the variable
    /// ever holds.
    fn assigned(&self, name: &str, param: Option<u8>) -> Option<Value> {
        let mut assigned = self
            .f
            .locals
            .iter()
            .filter(|l| l.var == name && self.at.is_none_or(|at| l.line < at))
            .peekable();
        assigned.peek()?;
        let mut state = param.map_or_else(Value::default, Value::param);
        let mut ever = state.clone();
        for l in assigned {
            // A variable read before any value: unknown.
            let before = if state.0.is_empty() {
                Value::unknown()
            } else {
                state.clone()
            };
            let v = self.sub(&l.value, Some((name, &before)));
            if l.always || state.0.is_empty() {
                state = v;
            } else {
                state.push_all(v);
            }
            ever.push_all(state.clone());
        }
        let out = if self.at.is_some() { state } else { ever };
        Some(if out.0.is_empty() {
            Value::unknown()
        } else {
            out
        })
    }

    /// Evaluates another expression of the same function, with `name`
    /// standing for `value` if given.
    fn sub(&self, e: &str, bind: Option<(&str, &Value)>) -> Value {
        let toks = tokens(e);
        let mut p = Parser {
            toks: &toks,
            pos: 0,
            ev: self.ev,
            f: self.f,
            depth: self.depth + 1,
            bind,
            at: self.at,
        };
        let v = p.ternary();
        if p.pos == toks.len() {
            v
        } else {
            Value::unknown()
        }
    }
}

fn combine(a: Value, b: Value, op: fn(u32, u32) -> u32) -> Value {
    let is_or = op(1, 0) == 1;
    let mut out = Value::default();
    for x in &a.0 {
        for y in &b.0 {
            let mut when = x.when.clone();
            when.extend(y.when.iter().copied());
            let alt = match (x.base, y.base) {
                (Base::Const, Base::Const) => Alt {
                    base: Base::Const,
                    and: 0,
                    or: op(x.or, y.or),
                    when,
                },
                (Base::Const, _) | (_, Base::Const) => {
                    let (c, other) = if x.base == Base::Const {
                        (x, y)
                    } else {
                        (y, x)
                    };
                    let mut r = if is_or {
                        other.clone().or_const(c.or)
                    } else {
                        other.clone().and_const(c.or)
                    };
                    r.when = when;
                    r
                }
                _ => Alt {
                    base: Base::Unknown,
                    and: !0,
                    or: 0,
                    when,
                },
            };
            if !out.0.contains(&alt) {
                out.0.push(alt);
            }
        }
    }
    if out.0.len() > MAX_ALTS {
        return Value::unknown();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{Local, Param};
    use gfp::KernelVersion;

    fn f() -> Function {
        Function {
            name: "f".into(),
            params: vec![
                Param {
                    name: "gfp".into(),
                    is_gfp: true,
                },
                Param {
                    name: "atomic".into(),
                    is_gfp: false,
                },
            ],
            locals: vec![
                Local::maybe("m", "atomic ? GFP_ATOMIC : GFP_KERNEL"),
                Local::maybe("n", "GFP_NOFS"),
                Local::maybe("n", "n | (__GFP_NOFAIL)"),
            ],
            ..Function::default()
        }
    }

    fn ev() -> Evaluator {
        Evaluator::new(Profile::for_version_default(KernelVersion::new(6, 12)))
    }

    #[test]
    fn names_numbers_and_operators() {
        let e = ev();
        let c = |s| e.eval(s, &f()).constants().collect::<Vec<_>>();
        assert_eq!(c("GFP_KERNEL"), vec![Gfp::KERNEL]);
        assert_eq!(
            c("GFP_KERNEL | __GFP_NOFAIL"),
            vec![Gfp::KERNEL | Gfp::NOFAIL]
        );
        assert_eq!(
            c("GFP_KERNEL & ~__GFP_DIRECT_RECLAIM"),
            vec![Gfp::KERNEL - Gfp::DIRECT_RECLAIM]
        );
        assert_eq!(c("(__force gfp_t)0xcc0"), vec![Gfp::KERNEL]);
        assert_eq!(c("x ? GFP_ATOMIC : GFP_NOFS"), vec![Gfp::ATOMIC, Gfp::NOFS]);
        assert!(e.eval("ctx->gfp", &f()).is_unknown());
        assert!(e.eval("a || b", &f()).is_unknown());
        assert!(e.eval("GFP_KERNEL |", &f()).is_unknown());
    }

    #[test]
    fn parameters_stay_symbolic_and_bind() {
        let e = ev();
        let v = e.eval("gfp | __GFP_ZERO", &f());
        assert!(v.depends_on_params());
        let bound = v.bind(&[Value::constant(Gfp::NOWAIT)], &[]);
        assert_eq!(
            bound.constants().collect::<Vec<_>>(),
            vec![Gfp::NOWAIT | Gfp::ZERO]
        );
        // A ternary on a parameter picks its arm from a constant argument.
        let m = e.eval("m", &f());
        let t = m.bind(&[], &[Truth::Unknown, Truth::Known(true)]);
        assert_eq!(t.constants().collect::<Vec<_>>(), vec![Gfp::ATOMIC]);
        let both = m.bind(&[], &[Truth::Unknown, Truth::Unknown]);
        assert_eq!(both.constants().count(), 2);
        // `n |= __GFP_NOFAIL` after `n = GFP_NOFS`: both values, never NOFAIL alone.
        let n: Vec<Gfp> = e.eval("n", &f()).constants().collect();
        assert_eq!(n, vec![Gfp::NOFS, Gfp::NOFS | Gfp::NOFAIL]);
    }
}
