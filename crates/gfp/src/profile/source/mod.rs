//! Deriving a [`Profile`] from a kernel source tree and its `.config`.
//!
//! The built-in profiles describe mainline kernels. Vendor trees (Android's
//! CMA bit, NVIDIA L4T, Samsung, distribution backports) add bits, move them
//! or rename them, so the only faithful description of such a kernel is the
//! one its own headers produce. [`derive()`] reads a handful of files of the
//! tree:
//!
//! | file | era | gives |
//! |---|---|---|
//! | `include/linux/gfp_types.h` | 6.0 and later | flags, composites, `__GFP_BITS_MASK` |
//! | `include/linux/gfp.h` | every era (the only flag header before 6.0) | the same |
//! | `include/trace/events/mmflags.h` | 4.6 and later | `__def_gfpflag_names` (`%pGg`) and `show_gfp_flags` |
//! | `include/trace/events/gfpflags.h` | before 4.6 | `show_gfp_flags` |
//! | `Makefile` | every era | the version |
//!
//! and evaluates them with a small C preprocessor written for what these
//! headers use: object-like and function-like `#define`s (with `#`, `##` and
//! variadic parameters), `#undef`, the conditional directives with
//! `defined()` and integer expressions, `IS_ENABLED()` and its relatives,
//! `enum { ... }` blocks with implicit values, casts such as
//! `((__force gfp_t)x)` and integer constant expressions. Everything else in
//! the headers (prototypes, inline functions, unknown macros) is skipped.
//!
//! The configuration comes from a `.config` text (`CONFIG_X=y`, `=m`, `=n`,
//! `# CONFIG_X is not set`), exactly as the kernel's `autoconf.h` would
//! present it, or, without one, from a [`KernelConfig`].
//!
//! Every failure is a [`SourceError`]; no input makes the derivation panic,
//! and macro expansion is bounded in depth and size.

use alloc::borrow::ToOwned;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::cell::Cell;
use core::fmt;

use super::{KernelConfig, KernelVersion, NamedMask, Profile};

mod preprocess;

use preprocess::*;

/// The flag header of 6.0 and later kernels.
pub const GFP_TYPES_H: &str = "include/linux/gfp_types.h";
/// The flag header of every era (the only one before 6.0).
pub const GFP_H: &str = "include/linux/gfp.h";
/// The name tables of 4.6 and later kernels.
pub const MMFLAGS_H: &str = "include/trace/events/mmflags.h";
/// The tracepoint name table of kernels before 4.6.
pub const GFPFLAGS_H: &str = "include/trace/events/gfpflags.h";
/// The top-level makefile, which holds the version.
pub const MAKEFILE: &str = "Makefile";

/// Why a profile could not be derived from a source tree.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SourceError {
    /// A file the derivation needs is not in the tree.
    MissingFile {
        /// The path, relative to the tree's root.
        path: String,
        /// What its absence means.
        meaning: String,
    },
    /// A file or directory could not be read.
    Io {
        /// The path as given.
        path: String,
        /// The operating system's reason.
        reason: String,
    },
    /// A macro the profile cannot do without could not be evaluated.
    Unevaluable {
        /// The macro (or table) being evaluated.
        name: String,
        /// The file that defines it.
        file: String,
        /// The line of the definition (1-based).
        line: u32,
        /// What went wrong.
        reason: String,
    },
    /// A preprocessor directive is malformed (an `#else` without `#if`, an
    /// `#if` never closed, ...).
    Directive {
        /// The file.
        file: String,
        /// The line of the directive (1-based).
        line: u32,
        /// What is wrong with it.
        reason: String,
    },
    /// A name table could not be read.
    NameTable {
        /// The macro holding the table (`__def_gfpflag_names`, `show_gfp_flags`).
        name: String,
        /// The file that defines it.
        file: String,
        /// The line of the definition (1-based).
        line: u32,
        /// What is wrong with it.
        reason: String,
    },
    /// The flag headers define no `__GFP_*` flag at all.
    NoFlags {
        /// The files that were read.
        files: String,
    },
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceError::MissingFile { path, meaning } => write!(f, "missing {path}: {meaning}"),
            SourceError::Io { path, reason } => write!(f, "cannot read {path}: {reason}"),
            SourceError::Unevaluable {
                name,
                file,
                line,
                reason,
            } => write!(f, "cannot evaluate {name} ({file}:{line}): {reason}"),
            SourceError::Directive { file, line, reason } => {
                write!(f, "bad preprocessor directive at {file}:{line}: {reason}")
            }
            SourceError::NameTable {
                name,
                file,
                line,
                reason,
            } => write!(
                f,
                "cannot read the name table {name} ({file}:{line}): {reason}"
            ),
            SourceError::NoFlags { files } => write!(
                f,
                "{files} define no __GFP_* flag: not the GFP header of a kernel source tree?"
            ),
        }
    }
}

impl core::error::Error for SourceError {}

/// Derives the profile of the kernel tree that `read` gives access to.
///
/// `read("include/linux/gfp_types.h")` returns the text of a file of the
/// tree (by its path relative to the root) or `None` when there is none.
/// `config_text` is the tree's `.config`; without one every `CONFIG_` option
/// is off (the [`KernelConfig`] defaults), and the profile says so in a note.
///
/// In the profile:
///
/// * `flags` holds every single-bit flag, named `__GFP_X` after its
///   `___GFP_X`/`__GFP_X` macros, in bit order; a flag configured out has
///   mask 0 and stays behind the flag defined before it.
/// * `composites` holds every `GFP_*` value of the flag headers (masks,
///   shifts and the zone tables left out) and the multi-bit `__GFP_*` values
///   such as `__GFP_RECLAIM`, in the order of the kernel's name tables, the
///   others after them in order of definition.
/// * `pgg_names` is `__def_gfpflag_names` (`None` before 4.6), `trace_names`
///   and `trace_zero` what `show_gfp_flags()` expands to (with the KASAN
///   extension where configured, or the `gfpflags.h` list before 4.6).
/// * `trace_userspace_hex` is set when the trace table's values use enum
///   constants that the table file does not export with
///   `TRACE_DEFINE_ENUM()`; only when that cannot be told from the tree is
///   the version rule (6.10 to 6.12.10, and 6.13) used, with a note.
/// * `version` comes from the top-level `Makefile`, `config` holds the
///   layout-moving options that are on and that the headers test.
///
/// Everything that could not be evaluated but was not needed (a vendor
/// composite, an `#if` taken as false) is reported in `notes`.
pub fn derive(
    read: &dyn Fn(&str) -> Option<String>,
    config_text: Option<&str>,
) -> Result<Profile, SourceError> {
    match config_text {
        Some(text) => {
            let cfg = parse_config(text, &header_text(read));
            derive_inner(read, cfg)
        }
        None => {
            let mut cfg = config_from_options(KernelConfig::default());
            cfg.notes.push(
                "no .config given: every CONFIG_ option is treated as off (the KernelConfig defaults)"
                    .to_string(),
            );
            derive_inner(read, cfg)
        }
    }
}

/// Derives the profile of the tree with no `.config`, only the layout-moving
/// options of `options` switched on (each as `CONFIG_X=y`; every other
/// option is off).
pub fn derive_with_options(
    read: &dyn Fn(&str) -> Option<String>,
    options: KernelConfig,
) -> Result<Profile, SourceError> {
    let mut cfg = config_from_options(options);
    cfg.notes.push(format!(
        "no .config given: only the options {options} are on, every other CONFIG_ option is off"
    ));
    // Report only the options this tree's headers look at.
    let headers = header_text(read);
    let used = |on: bool, sym: &str| on && headers.contains(sym);
    cfg.options = KernelConfig {
        lockdep: used(options.lockdep, "CONFIG_LOCKDEP"),
        kasan_hw_tags: used(options.kasan_hw_tags, "CONFIG_KASAN_HW_TAGS"),
        slab_obj_ext: used(options.slab_obj_ext, "CONFIG_SLAB_OBJ_EXT"),
        kmemcheck: used(options.kmemcheck, "CONFIG_KMEMCHECK"),
    };
    derive_inner(read, cfg)
}

/// The text of every header that is evaluated, to see which options they test.
fn header_text(read: &dyn Fn(&str) -> Option<String>) -> String {
    [GFP_TYPES_H, GFP_H, MMFLAGS_H, GFPFLAGS_H]
        .iter()
        .filter_map(|p| read(p))
        .collect()
}

/// Derives the profile of the kernel tree in `dir`.
///
/// `config` is the `.config` to use; without one, `DIR/.config` is used
/// when it exists, and otherwise every option is off (see [`derive()`]).
#[cfg(feature = "std")]
pub fn derive_from_dir(
    dir: &std::path::Path,
    config: Option<&std::path::Path>,
) -> Result<Profile, SourceError> {
    if !dir.is_dir() {
        return Err(SourceError::Io {
            path: dir.display().to_string(),
            reason: "not a directory".to_string(),
        });
    }
    let read = |rel: &str| -> Option<String> {
        let bytes = read_regular_file(&dir.join(rel)).ok()?;
        Some(String::from_utf8_lossy(&bytes).into_owned())
    };
    let read_config = |path: &std::path::Path| -> Result<String, SourceError> {
        read_regular_file(path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .map_err(|reason| SourceError::Io {
                path: path.display().to_string(),
                reason,
            })
    };
    let (text, origin) = match config {
        Some(path) => (Some(read_config(path)?), Some(path.to_path_buf())),
        None => {
            let own = dir.join(".config");
            if own.is_file() {
                (Some(read_config(&own)?), Some(own))
            } else {
                (None, None)
            }
        }
    };
    let mut profile = derive(&read, text.as_deref())?;
    if let Some(origin) = origin {
        profile
            .notes
            .insert(0, format!("configuration read from {}", origin.display()));
    }
    Ok(profile)
}

/// The largest header or `.config` read (the biggest real ones are a few
/// hundred KiB).
#[cfg(feature = "std")]
pub const MAX_SOURCE_FILE: u64 = 64 << 20;

/// Reads a regular file of at most [`MAX_SOURCE_FILE`] bytes: a directory,
/// a device (`/dev/zero`) or a FIFO is refused rather than read forever.
#[cfg(feature = "std")]
fn read_regular_file(path: &std::path::Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if meta.is_dir() {
        return Err("is a directory".to_string());
    }
    if !meta.is_file() {
        return Err("not a regular file".to_string());
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_SOURCE_FILE + 1).read_to_end(&mut bytes))
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_SOURCE_FILE {
        return Err(format!("larger than {} MiB", MAX_SOURCE_FILE >> 20));
    }
    Ok(bytes)
}

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

/// A configuration as the preprocessor sees it.
struct ConfigSyms {
    /// `CONFIG_*` macros and their replacement text.
    defs: Vec<(String, String)>,
    /// The layout-moving options.
    options: KernelConfig,
    /// The version named in the `.config` header comment, if any.
    header_version: Option<KernelVersion>,
    notes: Vec<String>,
}

/// The `CONFIG_` options behind the [`KernelConfig`] fields.
const OPTION_SYMBOLS: [&str; 4] = [
    "CONFIG_LOCKDEP",
    "CONFIG_KASAN_HW_TAGS",
    "CONFIG_SLAB_OBJ_EXT",
    "CONFIG_KMEMCHECK",
];

/// Options that Kconfig selects from others, for hand-written configs that
/// name only the selecting option: `(selected, selectors)`.
const SELECTED_BY: [(&str, &[&str]); 2] = [
    (
        "CONFIG_SLAB_OBJ_EXT",
        &["CONFIG_MEMCG", "CONFIG_MEM_ALLOC_PROFILING"],
    ),
    (
        "CONFIG_LOCKDEP",
        &[
            "CONFIG_PROVE_LOCKING",
            "CONFIG_DEBUG_LOCK_ALLOC",
            "CONFIG_LOCK_STAT",
        ],
    ),
];

fn config_from_options(options: KernelConfig) -> ConfigSyms {
    let on = [
        options.lockdep,
        options.kasan_hw_tags,
        options.slab_obj_ext,
        options.kmemcheck,
    ];
    let mut defs = Vec::new();
    for (sym, on) in OPTION_SYMBOLS.iter().zip(on) {
        if on {
            defs.push(((*sym).to_string(), "1".to_string()));
        }
    }
    if options.kasan_hw_tags {
        defs.push(("CONFIG_KASAN".to_string(), "1".to_string()));
    }
    ConfigSyms {
        defs,
        options,
        header_version: None,
        notes: Vec::new(),
    }
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Reads a `.config` text. `headers` is the text of the headers that will
/// be evaluated: an option they never mention moves nothing, so it is not
/// reported as on, and a hand-written config gets the options Kconfig would
/// have selected only where the headers look at them.
fn parse_config(text: &str, headers: &str) -> ConfigSyms {
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    let mut mentioned: BTreeSet<String> = BTreeSet::new();
    let mut header_version = None;
    let mut notes = Vec::new();
    for raw in text.lines() {
        let line = raw.trim();
        if let Some(rest) = line.strip_prefix('#') {
            let rest = rest.trim();
            if let Some(name) = rest.strip_suffix(" is not set") {
                if is_ident(name.trim()) {
                    mentioned.insert(name.trim().to_string());
                }
            } else if let Some(after) = rest.strip_prefix("Linux") {
                // "# Linux/x86 6.12.57 Kernel Configuration"
                if rest.ends_with("Kernel Configuration") && header_version.is_none() {
                    header_version = after
                        .split_whitespace()
                        .nth(1)
                        .and_then(|v| v.parse::<KernelVersion>().ok());
                }
            }
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        let name = name.trim();
        if !name.starts_with("CONFIG_") || !is_ident(name) {
            continue;
        }
        mentioned.insert(name.to_string());
        values.insert(name.to_string(), value.trim().to_string());
    }
    if mentioned.is_empty() {
        notes.push(
            "the configuration text has no CONFIG_ lines (a compressed /proc/config.gz must be unpacked first): every option is treated as off"
                .to_string(),
        );
    }
    let mut defs = Vec::new();
    for (name, value) in &values {
        match value.as_str() {
            "y" => defs.push((name.clone(), "1".to_string())),
            "m" => defs.push((format!("{name}_MODULE"), "1".to_string())),
            "n" | "" => {}
            other => defs.push((name.clone(), other.to_string())),
        }
    }
    let on = |defs: &[(String, String)], sym: &str| defs.iter().any(|(n, v)| n == sym && v == "1");
    // A hand-written config may name MEMCG without the SLAB_OBJ_EXT that
    // Kconfig would select; fill it in when the headers look at it.
    for (selected, selectors) in SELECTED_BY {
        if mentioned.contains(selected) || !headers.contains(selected) {
            continue;
        }
        if let Some(by) = selectors.iter().find(|s| on(&defs, s)) {
            defs.push((selected.to_string(), "1".to_string()));
            notes.push(format!(
                "the .config does not mention {selected}; assumed =y because {by}=y selects it"
            ));
        }
    }
    let mut moving = |sym: &str| {
        let set = on(&defs, sym);
        if set && !headers.contains(sym) {
            notes.push(format!(
                "{sym}=y does not change the GFP layout of this tree (its headers never test it)"
            ));
        }
        set && headers.contains(sym)
    };
    let options = KernelConfig {
        lockdep: moving("CONFIG_LOCKDEP"),
        kasan_hw_tags: moving("CONFIG_KASAN_HW_TAGS"),
        slab_obj_ext: moving("CONFIG_SLAB_OBJ_EXT"),
        kmemcheck: moving("CONFIG_KMEMCHECK"),
    };
    ConfigSyms {
        defs,
        options,
        header_version,
        notes,
    }
}

// ---------------------------------------------------------------------------
// Lexer
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Ident,
    Number,
    Str,
    Char,
    Punct,
    Other,
    /// An empty macro argument next to `##`; removed after substitution.
    Placemarker,
}

#[derive(Clone, Debug)]
struct Tok {
    kind: Kind,
    text: String,
    /// Whitespace came before it (for `#` stringification).
    space: bool,
    /// Physical line (1-based).
    line: u32,
    /// Ids of the macros this token must not be expanded by again.
    hide: Vec<u32>,
}

impl Tok {
    fn new(kind: Kind, text: impl Into<String>, space: bool, line: u32) -> Tok {
        Tok {
            kind,
            text: text.into(),
            space,
            line,
            hide: Vec::new(),
        }
    }

    fn is(&self, punct: &str) -> bool {
        self.kind == Kind::Punct && self.text == punct
    }

    fn ident(&self) -> Option<&str> {
        (self.kind == Kind::Ident).then_some(self.text.as_str())
    }
}

/// Splits a file into logical lines `(first physical line, text)`: line
/// continuations are joined and comments replaced by one space (a block
/// comment running over several lines joins them, as in C).
fn logical_lines(src: &str) -> Vec<(u32, String)> {
    let raw: Vec<char> = src.chars().filter(|&c| c != '\r').collect();
    let mut chars: Vec<(char, u32)> = Vec::with_capacity(raw.len());
    let mut line = 1u32;
    let mut i = 0;
    while let Some(&c) = raw.get(i) {
        if c == '\\' && raw.get(i + 1) == Some(&'\n') {
            line = line.saturating_add(1);
            i += 2;
            continue;
        }
        chars.push((c, line));
        if c == '\n' {
            line = line.saturating_add(1);
        }
        i += 1;
    }
    let mut lines = Vec::new();
    let mut cur = String::new();
    let mut start = 1;
    let mut at_start = true;
    let mut i = 0;
    let at = |i: usize| chars.get(i).map(|&(c, _)| c);
    while let Some(&(c, ln)) = chars.get(i) {
        if at_start {
            start = ln;
            at_start = false;
        }
        match c {
            '\n' => {
                lines.push((start, core::mem::take(&mut cur)));
                at_start = true;
                i += 1;
            }
            '/' if at(i + 1) == Some('*') => {
                cur.push(' ');
                i += 2;
                while i < chars.len() && !(at(i) == Some('*') && at(i + 1) == Some('/')) {
                    i += 1;
                }
                i += 2;
            }
            '/' if at(i + 1) == Some('/') => {
                while i < chars.len() && at(i) != Some('\n') {
                    i += 1;
                }
            }
            '"' | '\'' => {
                cur.push(c);
                i += 1;
                while let Some(d) = at(i) {
                    if d == '\n' {
                        break;
                    }
                    cur.push(d);
                    i += 1;
                    if d == '\\' {
                        if let Some(e) = at(i).filter(|&e| e != '\n') {
                            cur.push(e);
                            i += 1;
                        }
                    } else if d == c {
                        break;
                    }
                }
            }
            _ => {
                cur.push(c);
                i += 1;
            }
        }
    }
    if !at_start {
        lines.push((start, cur));
    }
    lines
}

const PUNCTS: [&str; 24] = [
    "...", "<<=", ">>=", "##", "<<", ">>", "<=", ">=", "==", "!=", "&&", "||", "->", "++", "--",
    "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "::",
];

/// Splits one logical line into preprocessing tokens.
fn tokenize(text: &str, line: u32) -> Vec<Tok> {
    let cs: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut space = false;
    while let Some(&c) = cs.get(i) {
        if c.is_whitespace() {
            space = true;
            i += 1;
            continue;
        }
        let start = i;
        let kind = if c.is_ascii_alphabetic() || c == '_' || c == '$' {
            while cs
                .get(i)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '$')
            {
                i += 1;
            }
            Kind::Ident
        } else if c.is_ascii_digit()
            || (c == '.' && cs.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            i += 1;
            while let Some(&d) = cs.get(i) {
                let exp = matches!(d, '+' | '-')
                    && cs
                        .get(i.wrapping_sub(1))
                        .is_some_and(|p| matches!(p, 'e' | 'E' | 'p' | 'P'));
                if d.is_ascii_alphanumeric() || d == '_' || d == '.' || exp {
                    i += 1;
                } else {
                    break;
                }
            }
            Kind::Number
        } else if c == '"' || c == '\'' {
            i += 1;
            while let Some(&d) = cs.get(i) {
                i += 1;
                if d == '\\' {
                    i += 1;
                } else if d == c {
                    break;
                }
            }
            if c == '"' {
                Kind::Str
            } else {
                Kind::Char
            }
        } else if let Some(p) = PUNCTS.iter().find(|p| {
            p.chars()
                .enumerate()
                .all(|(k, pc)| cs.get(i + k) == Some(&pc))
        }) {
            i += p.len();
            Kind::Punct
        } else {
            i += 1;
            if c.is_ascii_punctuation() {
                Kind::Punct
            } else {
                Kind::Other
            }
        };
        let end = i.min(cs.len());
        let text: String = cs.get(start..end).unwrap_or(&[]).iter().collect();
        out.push(Tok::new(kind, text, space, line));
        space = false;
    }
    out
}

// ---------------------------------------------------------------------------
// Integer constant expressions
// ---------------------------------------------------------------------------

/// Evaluates a fully expanded expression. With `enums`, identifiers must be
/// enum constants (recorded in `used`); without (in `#if`), they are 0.
fn eval_expr(
    toks: &[Tok],
    enums: Option<&BTreeMap<String, i128>>,
    used: &mut Vec<String>,
) -> Result<i128, String> {
    let mut p = Expr {
        toks,
        pos: 0,
        depth: 0,
        enums,
        used,
    };
    if toks.is_empty() {
        return Err("empty expression".to_string());
    }
    let v = p.ternary()?;
    match toks.get(p.pos) {
        None => Ok(v),
        Some(t) => Err(format!("unexpected `{}`", t.text)),
    }
}

struct Expr<'a> {
    toks: &'a [Tok],
    pos: usize,
    depth: u32,
    enums: Option<&'a BTreeMap<String, i128>>,
    used: &'a mut Vec<String>,
}

const LEVELS: [&[&str]; 10] = [
    &["||"],
    &["&&"],
    &["|"],
    &["^"],
    &["&"],
    &["==", "!="],
    &["<", ">", "<=", ">="],
    &["<<", ">>"],
    &["+", "-"],
    &["*", "/", "%"],
];

/// Words that make up the type names of casts.
const TYPE_WORDS: [&str; 31] = [
    "unsigned", "signed", "long", "int", "short", "char", "const", "volatile", "gfp_t", "size_t",
    "u8", "u16", "u32", "u64", "s8", "s16", "s32", "s64", "__u8", "__u16", "__u32", "__u64",
    "__s32", "__s64", "uint32_t", "uint64_t", "int32_t", "int64_t", "bool", "_Bool", "__force",
];

fn apply(op: &str, a: i128, b: i128) -> Result<i128, String> {
    Ok(match op {
        "||" => i128::from(a != 0 || b != 0),
        "&&" => i128::from(a != 0 && b != 0),
        "|" => a | b,
        "^" => a ^ b,
        "&" => a & b,
        "==" => i128::from(a == b),
        "!=" => i128::from(a != b),
        "<" => i128::from(a < b),
        ">" => i128::from(a > b),
        "<=" => i128::from(a <= b),
        ">=" => i128::from(a >= b),
        "<<" | ">>" => {
            let s = u32::try_from(b)
                .ok()
                .filter(|s| *s < 127)
                .ok_or_else(|| format!("shift by {b}"))?;
            if op == "<<" {
                a.wrapping_shl(s)
            } else {
                a.wrapping_shr(s)
            }
        }
        "+" => a.wrapping_add(b),
        "-" => a.wrapping_sub(b),
        "*" => a.wrapping_mul(b),
        "/" | "%" => {
            if b == 0 {
                return Err("division by zero".to_string());
            }
            if op == "/" {
                a.wrapping_div(b)
            } else {
                a.wrapping_rem(b)
            }
        }
        _ => return Err(format!("unknown operator `{op}`")),
    })
}

/// Truncates `v` to the type named by `words` (LP64 sizes).
fn cast(words: &[&str], v: i128) -> i128 {
    let unsigned = words.iter().any(|w| {
        *w == "unsigned"
            || *w == "gfp_t"
            || *w == "size_t"
            || w.starts_with('u')
            || w.starts_with("__u")
    });
    let bits: u32 = if words.contains(&"char") || words.iter().any(|w| w.ends_with('8')) {
        8
    } else if words.contains(&"short") || words.iter().any(|w| w.ends_with("16")) {
        16
    } else if words.contains(&"long")
        || words.contains(&"size_t")
        || words.iter().any(|w| w.ends_with("64"))
    {
        64
    } else if words.iter().any(|w| *w == "bool" || *w == "_Bool") {
        return i128::from(v != 0);
    } else if words
        .iter()
        .all(|w| *w == "__force" || *w == "const" || *w == "volatile")
    {
        return v;
    } else {
        32
    };
    let mask: i128 = (1i128 << bits) - 1;
    let low = v & mask;
    if !unsigned && low >> (bits - 1) & 1 == 1 {
        low - (1i128 << bits)
    } else {
        low
    }
}

fn parse_number(text: &str) -> Result<i128, String> {
    let t = text.trim_end_matches(['u', 'U', 'l', 'L']);
    let (digits, radix) = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        (h, 16)
    } else if let Some(b) = t.strip_prefix("0b").or_else(|| t.strip_prefix("0B")) {
        (b, 2)
    } else if t.len() > 1 {
        match t.strip_prefix('0') {
            Some(o) => (o, 8),
            None => (t, 10),
        }
    } else {
        (t, 10)
    };
    if digits.is_empty() {
        return Err(format!("`{text}` is not an integer"));
    }
    let v =
        u128::from_str_radix(digits, radix).map_err(|_| format!("`{text}` is not an integer"))?;
    i128::try_from(v).map_err(|_| format!("`{text}` is too large"))
}

fn parse_char(text: &str) -> Result<i128, String> {
    let inner = text
        .strip_prefix('\'')
        .and_then(|t| t.strip_suffix('\''))
        .ok_or_else(|| format!("bad character constant {text}"))?;
    let mut cs = inner.chars();
    let v = match cs.next() {
        Some('\\') => match cs.next() {
            Some('n') => 10,
            Some('t') => 9,
            Some('r') => 13,
            Some('0') => 0,
            Some('x') => {
                let hex: String = cs.collect();
                u32::from_str_radix(&hex, 16)
                    .map_err(|_| format!("bad character constant {text}"))?
            }
            Some(c) => u32::from(c),
            None => return Err(format!("bad character constant {text}")),
        },
        Some(c) => u32::from(c),
        None => return Err(format!("empty character constant {text}")),
    };
    Ok(i128::from(v))
}

impl Expr<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn expect(&mut self, p: &str) -> Result<(), String> {
        match self.peek() {
            Some(t) if t.is(p) => {
                self.pos += 1;
                Ok(())
            }
            Some(t) => Err(format!("expected `{p}`, found `{}`", t.text)),
            None => Err(format!("expected `{p}` at the end")),
        }
    }

    fn ternary(&mut self) -> Result<i128, String> {
        let c = self.binary(0)?;
        if self.peek().is_some_and(|t| t.is("?")) {
            self.pos += 1;
            let a = self.nested(Expr::ternary)?;
            self.expect(":")?;
            let b = self.nested(Expr::ternary)?;
            return Ok(if c != 0 { a } else { b });
        }
        Ok(c)
    }

    fn nested(&mut self, f: fn(&mut Self) -> Result<i128, String>) -> Result<i128, String> {
        self.depth += 1;
        if self.depth > MAX_EXPR_DEPTH {
            return Err(format!("expression nested more than {MAX_EXPR_DEPTH} deep"));
        }
        let r = f(self);
        self.depth -= 1;
        r
    }

    fn binary(&mut self, level: usize) -> Result<i128, String> {
        let Some(ops) = LEVELS.get(level) else {
            return self.nested(Expr::unary);
        };
        let mut lhs = self.binary(level + 1)?;
        while let Some(op) = self
            .peek()
            .filter(|t| t.kind == Kind::Punct)
            .and_then(|t| ops.iter().find(|o| **o == t.text))
        {
            self.pos += 1;
            let rhs = self.binary(level + 1)?;
            lhs = apply(op, lhs, rhs)?;
        }
        Ok(lhs)
    }

    /// The type words of a cast starting at the current `(`, if it is one.
    fn cast_words(&self) -> Option<(Vec<&'static str>, usize)> {
        let mut words = Vec::new();
        let mut k = self.pos + 1;
        loop {
            let t = self.toks.get(k)?;
            if t.is(")") {
                break;
            }
            let w = TYPE_WORDS
                .iter()
                .find(|w| **w == t.text && t.kind == Kind::Ident)?;
            words.push(*w);
            k += 1;
        }
        if words.is_empty() {
            None
        } else {
            Some((words, k + 1))
        }
    }

    fn unary(&mut self) -> Result<i128, String> {
        let Some(t) = self.peek() else {
            return Err("expression ends too early".to_string());
        };
        let t = t.clone();
        self.pos += 1;
        match t.kind {
            Kind::Punct => match t.text.as_str() {
                "-" => Ok(self.nested(Expr::unary)?.wrapping_neg()),
                "+" => self.nested(Expr::unary),
                "~" => Ok(!self.nested(Expr::unary)?),
                "!" => Ok(i128::from(self.nested(Expr::unary)? == 0)),
                "(" => {
                    self.pos -= 1;
                    if let Some((words, next)) = self.cast_words() {
                        self.pos = next;
                        let v = self.nested(Expr::unary)?;
                        return Ok(cast(&words, v));
                    }
                    self.pos += 1;
                    let v = self.nested(Expr::ternary)?;
                    self.expect(")")?;
                    Ok(v)
                }
                other => Err(format!("unexpected `{other}`")),
            },
            Kind::Number => parse_number(&t.text),
            Kind::Char => parse_char(&t.text),
            Kind::Ident => match self.enums {
                None => Ok(0),
                Some(enums) => match enums.get(&t.text) {
                    Some(v) => {
                        if !self.used.contains(&t.text) {
                            self.used.push(t.text.clone());
                        }
                        Ok(*v)
                    }
                    None => Err(format!("`{}` is not a known constant", t.text)),
                },
            },
            _ => Err(format!("unexpected `{}`", t.text)),
        }
    }
}

// ---------------------------------------------------------------------------
// Name tables
// ---------------------------------------------------------------------------

fn unquote(toks: &[Tok]) -> Option<String> {
    if toks.is_empty() || toks.iter().any(|t| t.kind != Kind::Str) {
        return None;
    }
    let mut s = String::new();
    for t in toks {
        let inner = t.text.strip_prefix('"')?.strip_suffix('"')?;
        let mut cs = inner.chars();
        while let Some(c) = cs.next() {
            if c == '\\' {
                match cs.next() {
                    Some('n') => s.push('\n'),
                    Some('t') => s.push('\t'),
                    Some(e) => s.push(e),
                    None => {}
                }
            } else {
                s.push(c);
            }
        }
    }
    Some(s)
}

/// Whether a table entry's name part is the terminator (`NULL`, `0`).
fn is_terminator(toks: &[Tok]) -> bool {
    let words: Vec<&str> = toks
        .iter()
        .map(|t| t.text.as_str())
        .filter(|w| !matches!(*w, "(" | ")" | "void" | "*"))
        .collect();
    matches!(words.as_slice(), ["NULL"] | ["0"])
}

/// Reads `{mask, "name"}, ...` entries, stopping at a `{.., NULL}` terminator.
fn parse_entries(
    pieces: &[&[Tok]],
    enums: &BTreeMap<String, i128>,
    used: &mut Vec<String>,
    notes: &mut Vec<String>,
) -> Result<Vec<NamedMask>, String> {
    let mut out = Vec::new();
    for piece in pieces {
        let Some((first, rest)) = piece.split_first() else {
            continue;
        };
        let inner = match rest.split_last() {
            Some((last, inner)) if first.is("{") && last.is("}") => inner,
            _ => {
                let text: Vec<&str> = piece.iter().take(6).map(|t| t.text.as_str()).collect();
                return Err(format!(
                    "`{}` is not an entry of the form {{mask, \"name\"}}",
                    text.join(" ")
                ));
            }
        };
        let parts = split_top(inner);
        let (value, name) = match parts.as_slice() {
            [v, n] => (*v, *n),
            [v, n, []] => (*v, *n),
            _ => return Err("an entry has not two parts {mask, \"name\"}".to_string()),
        };
        if is_terminator(name) {
            break;
        }
        let Some(name) = unquote(name) else {
            return Err("an entry's name is not a string".to_string());
        };
        let v = eval_expr(value, Some(enums), used).map_err(|e| format!("{name}: {e}"))?;
        let mask = (v & 0xffff_ffff) as u32;
        if i128::from(mask) != v {
            notes.push(format!(
                "the table entry {name} has the value {v:#x}, beyond 32 bits; kept {mask:#x}"
            ));
        }
        out.push(NamedMask::new(name, mask));
    }
    Ok(out)
}

/// What `show_gfp_flags()` expands to: its table and its zero text.
struct TraceTable {
    names: Vec<NamedMask>,
    zero: Option<String>,
}

fn table_error(pp: &Pp, name: &str, reason: String) -> SourceError {
    let (file, line) = pp
        .macros
        .get(name)
        .map_or((String::from("?"), 0), |m| (m.file.clone(), m.line));
    SourceError::NameTable {
        name: name.to_string(),
        file,
        line,
        reason,
    }
}

fn pgg_table(pp: &Pp, notes: &mut Vec<String>) -> Result<Vec<NamedMask>, SourceError> {
    const NAME: &str = "__def_gfpflag_names";
    pp.steps.set(0);
    let toks = pp
        .expand(vec![Tok::new(Kind::Ident, NAME, false, 0)], 0)
        .map_err(|e| table_error(pp, NAME, e))?;
    let mut used = Vec::new();
    parse_entries(&split_top(&toks), &pp.enums, &mut used, notes)
        .map_err(|e| table_error(pp, NAME, e))
}

fn trace_table(
    pp: &Pp,
    used: &mut Vec<String>,
    notes: &mut Vec<String>,
) -> Result<TraceTable, SourceError> {
    const NAME: &str = "show_gfp_flags";
    const PROBE: &str = "__gfp_flags_probe__";
    let err = |e: String| table_error(pp, NAME, e);
    match pp.macros.get(NAME) {
        Some(m) if m.params.as_ref().is_some_and(|p| p.len() == 1) => {}
        Some(_) => return Err(err("it is not a macro of one argument".to_string())),
        None => return Err(err("the tree does not define it".to_string())),
    }
    let call = vec![
        Tok::new(Kind::Ident, NAME, false, 0),
        Tok::new(Kind::Punct, "(", false, 0),
        Tok::new(Kind::Ident, PROBE, false, 0),
        Tok::new(Kind::Punct, ")", false, 0),
    ];
    pp.steps.set(0);
    let toks = pp.expand(call, 0).map_err(err)?;
    let start = toks
        .windows(2)
        .position(|w| matches!(w, [a, b] if a.ident() == Some("__print_flags") && b.is("(")))
        .ok_or_else(|| err("it does not call __print_flags()".to_string()))?;
    let open = start + 1;
    let mut depth = 0usize;
    let mut close = None;
    for (k, t) in toks.iter().enumerate().skip(open) {
        if t.is("(") {
            depth += 1;
        } else if t.is(")") {
            depth = depth.saturating_sub(1);
            if depth == 0 {
                close = Some(k);
                break;
            }
        }
    }
    let close = close.ok_or_else(|| err("__print_flags( is not closed".to_string()))?;
    let inner = toks.get(open + 1..close).unwrap_or(&[]);
    let pieces = split_top(inner);
    let entries = pieces.get(2..).unwrap_or(&[]);
    let names = parse_entries(entries, &pp.enums, used, notes).map_err(err)?;
    // `... ) : "none"`: the text for a zero mask.
    let after = toks.get(close + 1..).unwrap_or(&[]);
    let zero = after.iter().position(|t| t.is(":")).and_then(|c| {
        let strs: Vec<Tok> = after
            .iter()
            .skip(c + 1)
            .take_while(|t| t.kind == Kind::Str)
            .cloned()
            .collect();
        unquote(&strs)
    });
    Ok(TraceTable { names, zero })
}

fn parse_makefile(text: &str) -> Option<KernelVersion> {
    let get = |key: &str| -> Option<Option<u16>> {
        text.lines().find_map(|l| {
            let (k, v) = l.split_once('=')?;
            let k = k.trim().trim_end_matches([':', '?']);
            (k == key).then(|| v.trim().parse::<u16>().ok())
        })
    };
    let major = get("VERSION")??;
    let minor = get("PATCHLEVEL")??;
    Some(match get("SUBLEVEL").flatten() {
        Some(p) => KernelVersion::with_patch(major, minor, p),
        None => KernelVersion::new(major, minor),
    })
}

/// 6.10 to 6.12.10 and 6.13 printed unresolved enum names in trace formats.
fn version_says_userspace_hex(v: KernelVersion) -> bool {
    v.release() == KernelVersion::new(6, 13)
        || (v.at_least(6, 10) && v <= KernelVersion::with_patch(6, 12, 10) && !v.at_least(6, 13))
}

// ---------------------------------------------------------------------------
// Assembly
// ---------------------------------------------------------------------------

struct FlagCandidate {
    name: String,
    mask: u32,
    /// Sort key: bit index of the flag, or of the nearest earlier defined one.
    key: (i64, u8, usize),
}

fn low32(v: i128) -> u32 {
    (v & 0xffff_ffff) as u32
}

/// Derives the profile of the tree that `read` reads, configured by `cfg`:
/// runs its headers, then assembles the flags, the composites, the name
/// tables, the version and the trace tools' view of the table.
fn derive_inner(
    read: &dyn Fn(&str) -> Option<String>,
    cfg: ConfigSyms,
) -> Result<Profile, SourceError> {
    let mut notes = cfg.notes;
    let mut pp = Pp::new();
    run_config(&mut pp, &cfg.defs)?;
    let gfp_files = run_flag_headers(read, &mut pp)?;
    let (table_file, has_pgg) = run_table_headers(read, &mut pp)?;
    notes.append(&mut pp.notes);

    // Flags and composites, in order of definition.
    let mut used = Vec::new();
    let FlagMacros {
        candidates,
        mut composites,
    } = flag_macros(&pp, &gfp_files, &mut used, &mut notes)?;
    let flags = one_flag_per_bit(candidates, &mut notes);
    if flags.is_empty() {
        return Err(SourceError::NoFlags {
            files: gfp_files.join(" and "),
        });
    }
    let bits_mask = bits_mask(&pp, &flags, &mut used, &mut notes);

    // The name tables.
    let pgg_names = pgg_names(&pp, has_pgg, table_file, &mut notes)?;
    let mut trace_used = Vec::new();
    let trace = trace_table(&pp, &mut trace_used, &mut notes)?;
    // Composites in the kernel's own order where its tables give one (most
    // bits first), the others after them in order of definition.
    let rank = |name: &str| -> usize {
        pgg_names
            .iter()
            .flatten()
            .chain(trace.names.iter())
            .position(|e| e.name == name)
            .unwrap_or(usize::MAX)
    };
    composites.sort_by_key(|c| rank(&c.name));
    let trace_zero = trace_zero_text(trace.zero, pgg_names.is_some(), table_file, &mut notes);

    // The version.
    let version = read(MAKEFILE).as_deref().and_then(parse_makefile);
    match (version, cfg.header_version) {
        (None, _) => notes.push(format!(
            "no version in {MAKEFILE} (missing, or no VERSION/PATCHLEVEL): the version is unknown"
        )),
        (Some(v), Some(c)) if v.release() != c.release() => notes.push(format!(
            "the .config was written for Linux {c}, the tree is Linux {v}"
        )),
        _ => {}
    }

    let trace_userspace_hex =
        trace_userspace_hex(&pp, &trace_used, version, table_file, &mut notes);

    let label = match version {
        Some(v) => format!("Linux {v} from source ({})", cfg.options),
        None => format!("Linux (unknown version) from source ({})", cfg.options),
    };
    let profile = Profile {
        label,
        version,
        config: cfg.options,
        flags,
        composites,
        pgg_names,
        trace_names: trace.names,
        trace_zero,
        trace_userspace_hex,
        bits_mask,
        notes,
    };
    profile.validate().map_err(|e| SourceError::Unevaluable {
        name: "the derived profile".to_owned(),
        file: gfp_files.join(" and "),
        line: 0,
        reason: e.to_string(),
    })?;
    Ok(profile)
}

/// Runs the configuration's `CONFIG_` definitions through `pp`, as the
/// file `.config`.
fn run_config(pp: &mut Pp, defs: &[(String, String)]) -> Result<(), SourceError> {
    let mut cfg_text = String::new();
    for (name, value) in defs {
        cfg_text.push_str("#define ");
        cfg_text.push_str(name);
        cfg_text.push(' ');
        cfg_text.push_str(value);
        cfg_text.push('\n');
    }
    pp.run_file(".config", &cfg_text, TextUse::Enums)?;
    Ok(())
}

/// Runs the flag headers the tree has through `pp`, reading their enums;
/// the paths of those it has (an error when it has neither).
fn run_flag_headers(
    read: &dyn Fn(&str) -> Option<String>,
    pp: &mut Pp,
) -> Result<Vec<&'static str>, SourceError> {
    // The flag headers.
    let mut gfp_files: Vec<&str> = Vec::new();
    for path in [GFP_TYPES_H, GFP_H] {
        if let Some(src) = read(path) {
            let text = pp.run_file(path, &src, TextUse::Enums)?;
            pp.read_enums(path, &text);
            gfp_files.push(path);
        }
    }
    if gfp_files.is_empty() {
        return Err(SourceError::MissingFile {
            path: GFP_H.to_string(),
            meaning: format!(
                "neither {GFP_TYPES_H} (6.0 and later) nor {GFP_H} is there: not a kernel source tree?"
            ),
        });
    }
    Ok(gfp_files)
}

/// Runs the header of the name tables through `pp` (`mmflags.h`, and
/// `gfpflags.h` when that defines no `show_gfp_flags`); the path of the one
/// that holds the tables, and whether `mmflags.h` defines the `%pGg` table.
fn run_table_headers(
    read: &dyn Fn(&str) -> Option<String>,
    pp: &mut Pp,
) -> Result<(&'static str, bool), SourceError> {
    // The name tables.
    let mut table_file = None;
    if let Some(src) = read(MMFLAGS_H) {
        pp.run_file(MMFLAGS_H, &src, TextUse::TraceEnums)?;
        table_file = Some(MMFLAGS_H);
    }
    let has_pgg = pp
        .macros
        .get("__def_gfpflag_names")
        .is_some_and(|m| m.file == MMFLAGS_H);
    let has_trace = pp.macros.contains_key("show_gfp_flags");
    if !has_trace {
        if let Some(src) = read(GFPFLAGS_H) {
            pp.run_file(GFPFLAGS_H, &src, TextUse::TraceEnums)?;
            table_file = Some(GFPFLAGS_H);
        }
    }
    let Some(table_file) = table_file else {
        return Err(SourceError::MissingFile {
            path: MMFLAGS_H.to_string(),
            meaning: format!(
                "the GFP name tables are in {MMFLAGS_H} (4.6 and later) or {GFPFLAGS_H} (before 4.6), and neither is there: not a kernel source tree?"
            ),
        });
    };
    Ok((table_file, has_pgg))
}

/// The macros of the flag headers, in order of definition.
struct FlagMacros {
    /// Flags of one bit, or none (configured out): name and mask.
    candidates: Vec<(String, u32)>,
    /// `GFP_X` composites, and `__GFP_X` masks of several bits.
    composites: Vec<NamedMask>,
}

/// The single-bit flags (name and mask) and the composites that the flag
/// headers `gfp_files` define, in order of definition: `___GFP_X` values
/// under their `__GFP_X` names, `__GFP_X` macros without a `___GFP_X`, and
/// `GFP_X` composites.
fn flag_macros(
    pp: &Pp,
    gfp_files: &[&str],
    used: &mut Vec<String>,
    notes: &mut Vec<String>,
) -> Result<FlagMacros, SourceError> {
    let in_gfp = |m: &Macro| gfp_files.contains(&m.file.as_str());
    let mut candidates: Vec<(String, u32)> = Vec::new();
    let mut composites: Vec<NamedMask> = Vec::new();
    for name in &pp.order {
        let Some(m) = pp.macros.get(name) else {
            continue;
        };
        if !in_gfp(m) || m.params.is_some() {
            continue;
        }
        if let Some(x) = name.strip_prefix("___GFP_") {
            if x.ends_with("_BIT") {
                continue;
            }
            let flag = format!("__GFP_{x}");
            // A vendor bit may have no __GFP_ wrapper (NVIDIA's
            // ___GFP_MOVABLE_TRY_CMA is used through GFP_MOVABLE_TRY_CMA):
            // it still owns its bit, under the __GFP_ name.
            let source = if pp.macros.contains_key(&flag) {
                flag.as_str()
            } else {
                name.as_str()
            };
            let v = pp
                .eval_macro(source, used)
                .map_err(|e| pp.unevaluable(source, e))?;
            if source == name.as_str() && v != 0 {
                notes.push(format!(
                    "{name} has no {flag} macro; its bit {:#x} is listed as {flag}",
                    low32(v)
                ));
            }
            let mask = low32(v);
            if mask.count_ones() > 1 {
                notes.push(format!(
                    "{flag} has several bits ({mask:#x}); listed as a composite"
                ));
                composites.push(NamedMask::new(flag, mask));
            } else {
                candidates.push((flag, mask));
            }
        } else if let Some(x) = name.strip_prefix("__GFP_") {
            if matches!(x, "BITS_SHIFT" | "BITS_MASK")
                || x.starts_with('_')
                || pp.macros.contains_key(&format!("___GFP_{x}"))
            {
                continue;
            }
            match pp.eval_macro(name, used) {
                Ok(v) => {
                    let mask = low32(v);
                    if mask.count_ones() > 1 {
                        composites.push(NamedMask::new(name.clone(), mask));
                    } else if !is_alias(m, pp) {
                        candidates.push((name.clone(), mask));
                    }
                }
                Err(e) => notes.push(format!(
                    "could not evaluate {name} ({}:{}): {e}",
                    m.file, m.line
                )),
            }
        } else if name.starts_with("GFP_")
            && !name.ends_with("MASK")
            && !name.ends_with("_SHIFT")
            && !name.starts_with("GFP_ZONE")
        {
            match pp.eval_macro(name, used) {
                Ok(v) => composites.push(NamedMask::new(name.clone(), low32(v))),
                Err(e) => notes.push(format!(
                    "could not evaluate the composite {name} ({}:{}): {e}",
                    m.file, m.line
                )),
            }
        }
    }
    Ok(FlagMacros {
        candidates,
        composites,
    })
}

/// The flags of `candidates` (in order of definition), one per bit and in
/// bit order.
fn one_flag_per_bit(candidates: Vec<(String, u32)>, notes: &mut Vec<String>) -> Vec<NamedMask> {
    // One flag per bit, the first defined wins; then bit order, a flag
    // configured out (mask 0) staying behind the flag defined before it.
    let mut seen = 0u32;
    let mut flags: Vec<FlagCandidate> = Vec::new();
    let mut prev_bit: i64 = -1;
    for (seq, (name, mask)) in candidates.into_iter().enumerate() {
        if mask != 0 && seen & mask != 0 {
            let owner = flags
                .iter()
                .find(|f| f.mask == mask)
                .map_or("another flag", |f| f.name.as_str());
            notes.push(format!(
                "{name} has the bit {mask:#x} of {owner}; {owner} keeps it"
            ));
            continue;
        }
        seen |= mask;
        let key = if mask == 0 {
            (prev_bit, 1, seq)
        } else {
            prev_bit = i64::from(mask.trailing_zeros());
            (prev_bit, 0, seq)
        };
        flags.push(FlagCandidate { name, mask, key });
    }
    flags.sort_by_key(|f| f.key);
    flags
        .into_iter()
        .map(|f| NamedMask::new(f.name, f.mask))
        .collect()
}

/// `__GFP_BITS_MASK`, or the mask of `__GFP_BITS_SHIFT` bits, or else the
/// union of `flags`.
fn bits_mask(pp: &Pp, flags: &[NamedMask], used: &mut Vec<String>, notes: &mut Vec<String>) -> u32 {
    // __GFP_BITS_MASK.
    match pp.eval_macro("__GFP_BITS_MASK", used) {
        Ok(v) => low32(v),
        Err(e) => match pp.eval_macro("__GFP_BITS_SHIFT", used) {
            Ok(s) if (0..32).contains(&s) => low32((1i128 << s) - 1),
            _ => {
                let all = flags.iter().fold(0, |a, f| a | f.mask);
                notes.push(format!(
                    "could not evaluate __GFP_BITS_MASK ({e}); using the union of the flags, {all:#x}"
                ));
                all
            }
        },
    }
}

/// The `%pGg` table, when `mmflags.h` defines one (`has_pgg`); `None`, with
/// a note saying why, when the tree predates `%pGg`.
fn pgg_names(
    pp: &Pp,
    has_pgg: bool,
    table_file: &str,
    notes: &mut Vec<String>,
) -> Result<Option<Vec<NamedMask>>, SourceError> {
    if has_pgg {
        Ok(Some(pgg_table(pp, notes)?))
    } else {
        let why = if table_file == MMFLAGS_H {
            format!("{MMFLAGS_H} does not define __def_gfpflag_names")
        } else {
            format!("the tree has no {MMFLAGS_H}")
        };
        notes.push(format!(
            "{why}: it predates %pGg (4.6), so there is no %pGg table"
        ));
        Ok(None)
    }
}

/// The text `show_gfp_flags()` prints for a zero mask: `zero`, the table's
/// own, or else the one of its era (`none` with a `%pGg` table, before it
/// `GFP_NOWAIT`), with a note.
fn trace_zero_text(
    zero: Option<String>,
    has_pgg_names: bool,
    table_file: &str,
    notes: &mut Vec<String>,
) -> String {
    match zero {
        Some(z) => z,
        None => {
            let z = if has_pgg_names { "none" } else { "GFP_NOWAIT" };
            notes.push(format!(
                "show_gfp_flags() in {table_file} has no text for a zero mask; assumed \"{z}\""
            ));
            z.to_string()
        }
    }
}

/// Whether user-space trace tools print the trace table's values in hex:
/// decided by the tree (whether `table_file` exports the enum constants
/// `trace_used` that the table uses), or by `version` when the tree could
/// not be read for it.
fn trace_userspace_hex(
    pp: &Pp,
    trace_used: &[String],
    version: Option<KernelVersion>,
    table_file: &str,
    notes: &mut Vec<String>,
) -> bool {
    // Whether user-space trace tools could resolve the table's values.
    let unresolved: Vec<&String> = trace_used
        .iter()
        .filter(|n| !pp.trace_enums.contains(*n))
        .collect();
    let by_tree = !unresolved.is_empty();
    match (&pp.trace_scan_failed, version) {
        (Some(why), Some(v)) if by_tree => {
            let hex = version_says_userspace_hex(v);
            notes.push(format!(
                "could not tell whether {table_file} exports the enum constants its table uses ({why}); going by the version: user-space trace tools print {}",
                if hex { "hex" } else { "names" }
            ));
            hex
        }
        (Some(why), None) if by_tree => {
            notes.push(format!(
                "could not tell whether {table_file} exports the enum constants its table uses ({why}), and the version is unknown: assuming user-space trace tools print hex"
            ));
            true
        }
        _ => {
            if by_tree {
                let list: Vec<&str> = unresolved.iter().take(3).map(|s| s.as_str()).collect();
                notes.push(format!(
                    "the trace table uses enum constants that {table_file} does not export with TRACE_DEFINE_ENUM ({}{}): trace-cmd and perf print gfp_flags in hex",
                    list.join(", "),
                    if unresolved.len() > 3 { ", ..." } else { "" }
                ));
            }
            if let Some(v) = version {
                if version_says_userspace_hex(v) != by_tree {
                    notes.push(format!(
                        "user-space hex for trace gfp_flags is decided by the tree ({}), not by the version rule for {v}",
                        if by_tree { "yes" } else { "no" }
                    ));
                }
            }
            by_tree
        }
    }
}

/// Whether a `__GFP_` macro only renames another one
/// (`#define __GFP_NOTRACK_FALSE_POSITIVE (__GFP_NOTRACK)`).
fn is_alias(m: &Macro, pp: &Pp) -> bool {
    let idents: Vec<&str> = m
        .body
        .iter()
        .filter_map(Tok::ident)
        .filter(|w| !TYPE_WORDS.contains(w))
        .collect();
    matches!(idents.as_slice(), [one] if one.starts_with("__GFP_") && pp.macros.contains_key(*one))
        && m.body.iter().all(|t| t.kind != Kind::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-line-per-field rendering, for comparisons and failure output.
    fn compact(p: &Profile) -> String {
        let list = |t: &[NamedMask]| -> String {
            t.iter()
                .map(|e| format!("{}={:#x}", e.name, e.mask))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let mut s = String::new();
        s.push_str(&format!("label: {}\n", p.label));
        s.push_str(&format!("config: {:?}\n", p.config));
        s.push_str(&format!("flags: {}\n", list(&p.flags)));
        s.push_str(&format!("composites: {}\n", list(&p.composites)));
        match &p.pgg_names {
            Some(t) => s.push_str(&format!("pgg: {}\n", list(t))),
            None => s.push_str("pgg: none\n"),
        }
        s.push_str(&format!("trace: {}\n", list(&p.trace_names)));
        s.push_str(&format!(
            "zero: {:?} hex: {} bits_mask: {:#x}\n",
            p.trace_zero, p.trace_userspace_hex, p.bits_mask
        ));
        for n in &p.notes {
            s.push_str(&format!("note: {n}\n"));
        }
        s
    }

    /// A preprocessor that has run `src` as a header.
    fn pp_with(src: &str) -> Pp {
        let mut pp = Pp::new();
        let text = pp.run_file("t.h", src, TextUse::Enums).expect("runs");
        pp.read_enums("t.h", &text);
        pp
    }

    fn value(pp: &Pp, name: &str) -> Result<i128, String> {
        pp.eval_macro(name, &mut Vec::new())
    }

    #[test]
    fn integer_expressions() {
        let pp = pp_with(
            "#define A (0x10u | 0x02UL)\n\
             #define B (~A & 0xff)\n\
             #define C ((1 << 4) + 3 * 2 - 010)\n\
             #define D (A > 3 ? 7 : 9)\n\
             #define E ((unsigned int)-1)\n\
             #define F ((gfp_t)(~0x200u))\n\
             #define G (1 || 0) + (2 && 0) + (5 % 3) + (9 / 2) + (6 ^ 3)\n\
             #define H 'A'\n\
             #define I 0b101\n",
        );
        assert_eq!(value(&pp, "A"), Ok(0x12));
        assert_eq!(value(&pp, "B"), Ok(0xed));
        assert_eq!(value(&pp, "C"), Ok(16 + 6 - 8));
        assert_eq!(value(&pp, "D"), Ok(7));
        assert_eq!(value(&pp, "E"), Ok(0xffff_ffff));
        assert_eq!(value(&pp, "F"), Ok(0xffff_fdff));
        assert_eq!(value(&pp, "G"), Ok(1 + 2 + 4 + 5));
        assert_eq!(value(&pp, "H"), Ok(65));
        assert_eq!(value(&pp, "I"), Ok(5));
    }

    #[test]
    fn bad_expressions_are_errors() {
        let pp = pp_with(
            "#define A (1 +)\n#define B (1 / 0)\n#define C NOT_A_CONSTANT\n\
             #define D (1 << 200)\n#define E (3 4)\n#define F 0x\n#define G sizeof(int)\n",
        );
        for name in ["A", "B", "C", "D", "E", "F", "G", "UNDEFINED"] {
            assert!(value(&pp, name).is_err(), "{name}");
        }
        let deep = format!("#define X {}1{}\n", "(".repeat(500), ")".repeat(500));
        let pp = pp_with(&deep);
        assert!(value(&pp, "X").unwrap_err().contains("nested"));
    }

    #[test]
    fn function_like_macros_stringify_and_paste() {
        let pp = pp_with(
            "#define SHIFT(n) (1u << (n))\n\
             #define PICK(a, b, ...) b\n\
             #define NAME(x) #x\n\
             #define GLUE(a, b) a##b\n\
             #define ONE_BIT 3\n\
             #define VIA_GLUE GLUE(ONE_, BIT)\n\
             #define USE SHIFT(VIA_GLUE)\n\
             #define SECOND PICK(10, 20, 30, 40)\n\
             #define OPT(x, ...) x , ## __VA_ARGS__\n",
        );
        assert_eq!(value(&pp, "USE"), Ok(8));
        assert_eq!(value(&pp, "SECOND"), Ok(20));
        let out = pp
            .expand(tokenize("NAME(  __GFP_IO  ) NAME(a  +b)", 1), 0)
            .unwrap();
        let texts: Vec<&str> = out.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(texts, ["\"__GFP_IO\"", "\"a +b\""]);
        let out = pp.expand(tokenize("OPT(1)", 1), 0).unwrap();
        let texts: Vec<&str> = out.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(texts, ["1"]);
    }

    #[test]
    fn recursion_is_bounded() {
        let pp = pp_with(
            "#define SELF (SELF + 1)\n#define P Q\n#define Q P\n\
             #define D1 D2 D2\n#define D2 D3 D3\n#define D3 D4 D4\n#define D4 D5 D5\n\
             #define D5 D6 D6\n#define D6 D7 D7\n#define D7 D8 D8\n#define D8 D9 D9\n\
             #define D9 DA DA\n#define DA DB DB\n#define DB DC DC\n#define DC DD DD\n\
             #define DD DE DE\n#define DE DF DF\n#define DF DG DG\n#define DG DH DH\n\
             #define DH DI DI\n#define DI DJ DJ\n#define DJ DK DK\n#define DK x x\n",
        );
        // Self-reference stops at the name itself, which is not a constant.
        assert!(value(&pp, "SELF").unwrap_err().contains("SELF"));
        assert!(value(&pp, "P").is_err());
        let e = value(&pp, "D1").unwrap_err();
        assert!(e.contains("steps") || e.contains("tokens"), "{e}");
    }

    #[test]
    fn conditionals_and_config() {
        let mut pp = Pp::new();
        pp.run_file(
            ".config",
            "#define CONFIG_ON 1\n#define CONFIG_MOD_MODULE 1\n",
            TextUse::Enums,
        )
        .unwrap();
        pp.run_file(
            "t.h",
            "#if defined(CONFIG_ON) && !defined CONFIG_OFF\n#define A 1\n#else\n#define A 2\n#endif\n\
             #ifdef CONFIG_OFF\n#define B 1\n#elif IS_ENABLED(CONFIG_MOD)\n#define B 2\n#else\n#define B 3\n#endif\n\
             #ifndef CONFIG_ON\n#define C 1\n#elif IS_BUILTIN(CONFIG_MOD)\n#define C 2\n#elif IS_MODULE(CONFIG_MOD) + 1 == 2\n#define C 3\n#endif\n\
             #if 0\n#if garbage (((\n#define D 9\n#endif\n#else\n#define D (2 + IS_ENABLED(CONFIG_ON) + IS_ENABLED(CONFIG_OFF))\n#endif\n\
             #if __has_include(<linux/x.h>) || UNKNOWN_MACRO\n#define E 1\n#else\n#define E 0\n#endif\n\
             #if 1 +\n#define F 1\n#endif\n",
            TextUse::Enums,
        )
        .unwrap();
        assert_eq!(value(&pp, "A"), Ok(1));
        assert_eq!(value(&pp, "B"), Ok(2));
        assert_eq!(value(&pp, "C"), Ok(3));
        assert_eq!(value(&pp, "D"), Ok(3));
        assert_eq!(value(&pp, "E"), Ok(0));
        assert!(value(&pp, "F").is_err());
        assert!(pp
            .notes
            .iter()
            .any(|n| n.contains("t.h:") && n.contains("#if")));
    }

    #[test]
    fn unbalanced_conditionals_are_errors() {
        for (src, line) in [
            ("#define A 1\n#else\n", 2),
            ("#endif\n", 1),
            ("\n\n#ifdef X\n#define A 1\n", 3),
            ("#if 1\n#else\n#elif 1\n#endif\n", 3),
            ("#if 1\n#else\n#else\n#endif\n", 3),
        ] {
            let mut pp = Pp::new();
            match pp.run_file("t.h", src, TextUse::Enums) {
                Err(SourceError::Directive { file, line: l, .. }) => {
                    assert_eq!((file.as_str(), l), ("t.h", line), "{src:?}")
                }
                other => panic!("{src:?}: {:?}", other.map(|_| ())),
            }
        }
    }

    #[test]
    fn comments_continuations_and_strings() {
        let pp = pp_with(
            "/* a comment with a # and 'quote */\n\
             #define A (1 | \\\n   2) // trailing\n\
             #define B /* inside\n spanning lines */ 4\n\
             #define S \"a /* not a comment */ b\"\n\
             // don't confuse the lexer\n\
             #define C 8\n",
        );
        assert_eq!(value(&pp, "A"), Ok(3));
        assert_eq!(value(&pp, "B"), Ok(4));
        assert_eq!(value(&pp, "C"), Ok(8));
        assert_eq!(pp.macros.get("C").map(|m| m.line), Some(8));
        let s = pp.macros.get("S").unwrap();
        assert_eq!(
            s.body.first().map(|t| t.text.as_str()),
            Some("\"a /* not a comment */ b\"")
        );
    }

    #[test]
    fn enums_with_implicit_values_and_conditional_members() {
        let src = "enum {\n  E_A,\n  E_B,\n#ifdef CONFIG_X\n  E_X,\n#endif\n  E_C = 10,\n  E_D,\n  E_LAST\n};\n\
                   enum named { N_A = E_D << 1, N_B };\n\
                   #define USE (E_LAST + N_B)\n";
        let pp = pp_with(src);
        assert_eq!(pp.enums.get("E_B"), Some(&1));
        assert_eq!(pp.enums.get("E_X"), None);
        assert_eq!(pp.enums.get("E_C"), Some(&10));
        assert_eq!(pp.enums.get("N_B"), Some(&23));
        assert_eq!(value(&pp, "USE"), Ok(12 + 23));
        let mut pp = Pp::new();
        pp.run_file(".config", "#define CONFIG_X 1\n", TextUse::Enums)
            .unwrap();
        let text = pp.run_file("t.h", src, TextUse::Enums).unwrap();
        pp.read_enums("t.h", &text);
        assert_eq!(pp.enums.get("E_X"), Some(&2));
        assert_eq!(pp.enums.get("E_C"), Some(&10));
    }

    #[test]
    fn config_text() {
        let cfg = parse_config(
            "#\n# Linux/arm64 6.12.9 Kernel Configuration\n#\nCONFIG_LOCKDEP=y\n\
             CONFIG_KASAN_HW_TAGS=m\n# CONFIG_SLAB_OBJ_EXT is not set\nCONFIG_MEMCG=y\n\
             CONFIG_NAME=\"x\"\nCONFIG_SHIFT=12\nCONFIG_OFF=n\nbad line\nCONFIG_=y\n",
            "CONFIG_LOCKDEP CONFIG_KASAN_HW_TAGS CONFIG_SLAB_OBJ_EXT",
        );
        assert_eq!(
            cfg.header_version,
            Some(KernelVersion::with_patch(6, 12, 9))
        );
        assert!(cfg.options.lockdep);
        assert!(!cfg.options.kasan_hw_tags, "=m is not =y");
        assert!(
            !cfg.options.slab_obj_ext,
            "explicitly not set wins over MEMCG"
        );
        let has = |n: &str, v: &str| cfg.defs.iter().any(|(a, b)| a == n && b == v);
        assert!(has("CONFIG_KASAN_HW_TAGS_MODULE", "1"));
        assert!(has("CONFIG_NAME", "\"x\""));
        assert!(has("CONFIG_SHIFT", "12"));
        assert!(!cfg.defs.iter().any(|(a, _)| a == "CONFIG_OFF"));

        let cfg = parse_config(
            "CONFIG_MEMCG=y\nCONFIG_PROVE_LOCKING=y\n",
            "CONFIG_SLAB_OBJ_EXT",
        );
        assert!(cfg.options.slab_obj_ext);
        assert!(!cfg.options.lockdep, "the headers never test LOCKDEP");
        assert!(cfg.notes.iter().any(|n| n.contains("CONFIG_MEMCG")));
    }

    #[test]
    fn makefile_versions() {
        let mk =
            "# SPDX\nVERSION = 4\nPATCHLEVEL = 19\nSUBLEVEL = 325\nEXTRAVERSION = -rc1\nNAME = x\n";
        assert_eq!(
            parse_makefile(mk),
            Some(KernelVersion::with_patch(4, 19, 325))
        );
        assert_eq!(
            parse_makefile("VERSION = 3\nPATCHLEVEL = 2\n"),
            Some(KernelVersion::new(3, 2))
        );
        assert_eq!(parse_makefile("VERSION = x\nPATCHLEVEL = 2\n"), None);
        assert_eq!(parse_makefile("all:\n\techo\n"), None);
    }

    #[test]
    fn version_rule_for_userspace_hex() {
        let v = |a, b, c| version_says_userspace_hex(KernelVersion::with_patch(a, b, c));
        assert!(!v(6, 9, 12));
        assert!(v(6, 10, 0));
        assert!(v(6, 11, 5));
        assert!(v(6, 12, 10));
        assert!(!v(6, 12, 11));
        assert!(v(6, 13, 2));
        assert!(!v(6, 14, 0));
        assert!(version_says_userspace_hex(KernelVersion::new(6, 12)));
    }

    #[test]
    fn lexer_survives_odd_input() {
        for src in [
            "\"unterminated",
            "'",
            "\\",
            "/*",
            "#define",
            "# ",
            "#define F(",
            "#define F(a",
            "é#ü",
            "0x1.5p+3 ...",
        ] {
            let _ = logical_lines(src);
            let _ = tokenize(src, 1);
            let mut pp = Pp::new();
            let _ = pp.run_file("t.h", src, TextUse::TraceEnums);
        }
        let toks = tokenize("a<<=b##c...d 1.5e+3x", 1);
        let texts: Vec<&str> = toks.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(texts, ["a", "<<=", "b", "##", "c", "...", "d", "1.5e+3x"]);
    }

    #[cfg(feature = "std")]
    #[test]
    #[ignore = "needs a kernel tree: KSRC=DIR [KCFG=FILE]"]
    fn dump_real_tree() {
        extern crate std;
        let dir = std::env::var("KSRC").unwrap_or_else(|_| "/work/ksrc/linux-source-6.12".into());
        let cfg = std::env::var("KCFG").ok();
        let p = derive_from_dir(
            std::path::Path::new(&dir),
            cfg.as_deref().map(std::path::Path::new),
        );
        match p {
            Ok(p) => std::println!("{}", compact(&p)),
            Err(e) => std::println!("ERROR {e}"),
        }
    }
}
