//! `gfp decode`: masks on the command line, or kernel logs on stdin.

use std::io::{Read, Write};
use std::process::ExitCode;

use clap::Args;
use gfp::parse::parse_mask;
use gfp::profile::Profile;
use gfp::render;
use serde::Serialize;

use crate::profile_args::ProfileArgs;
use crate::{print_json, CmdResult, UserError};

/// Arguments of `gfp decode`.
#[derive(Args)]
pub struct DecodeArgs {
    #[command(flatten)]
    profile: ProfileArgs,
    /// Print the tracepoint form (`show_gfp_flags`) instead of `%#x(%pGg)`.
    #[arg(long)]
    trace: bool,
    /// One JSON object per mask (per line and mask when reading a log).
    #[arg(long)]
    json: bool,
    /// Masks: hex with 0x (0x140cca), decimal digits (3264), or names
    /// joined by | (GFP_KERNEL|__GFP_NOWARN).
    /// Without any, kernel logs or traces are read from stdin and annotated.
    #[arg(value_name = "MASK")]
    masks: Vec<String>,
}

#[derive(Serialize)]
struct Decoded<'a> {
    mask: String,
    profile: &'a str,
    rendered: String,
    trace: String,
    libtraceevent: String,
    flags: Vec<&'a str>,
    invalid_bits: Option<String>,
    summary: String,
}

/// Runs `gfp decode`.
pub fn run(args: DecodeArgs) -> CmdResult {
    if args.masks.is_empty() {
        return decode_stream(&args);
    }
    let profile = args.profile.resolve()?;
    let mut out = Vec::new();
    for text in &args.masks {
        let mask = parse_mask(&profile, text)?;
        out.push(decode_one(&profile, mask));
    }
    if args.json {
        return print_json(&out);
    }
    let stdout = std::io::stdout();
    let mut w = stdout.lock();
    for d in &out {
        let line = if args.trace { &d.trace } else { &d.rendered };
        writeln!(w, "{line}").map_err(|e| UserError(e.to_string()))?;
        if let Some(bits) = &d.invalid_bits {
            eprintln!(
                "gfp: warning: {}: bits {bits} are not defined in {}",
                d.mask, profile.label
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn decode_one(profile: &Profile, mask: u32) -> Decoded<'_> {
    let invalid = mask & !profile.bits_mask;
    let mut flags = Vec::new();
    for f in &profile.flags {
        if f.mask != 0 && mask & f.mask == f.mask {
            flags.push(f.name.as_str());
        }
    }
    let native = profile.to_native(mask).gfp;
    Decoded {
        mask: format!("{mask:#x}"),
        profile: &profile.label,
        rendered: render::hex_and_pgg(profile, mask),
        trace: render::trace(profile, mask),
        libtraceevent: render::libtraceevent(profile, mask),
        flags,
        invalid_bits: (invalid != 0).then(|| format!("{invalid:#x}")),
        summary: gfp::explain::brief(native, None),
    }
}

/// Reads a log on stdin and annotates every line that carries a gfp mask.
fn decode_stream(args: &DecodeArgs) -> CmdResult {
    let forced = if args.profile.is_given() {
        Some(args.profile.resolve()?)
    } else {
        None
    };
    let scanner = gfp::logscan::LogScanner::new(gfp::logscan::ScanOptions { profile: forced });
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut stream = LogStream::new(scanner, args.json);
    let res = stream
        .run(&mut stdin.lock(), &mut out)
        .and_then(|()| out.flush());
    match res {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(UserError(format!("decoding stdin: {e}"))),
    }
}

/// Streams a log through the scanner in large blocks.
///
/// The blocks are searched for the scanner's trigger tokens with a SIMD
/// multi-pattern search; only the lines that hold one reach the scanner, and
/// text mode echoes everything else in bulk.
struct LogStream {
    scanner: gfp::logscan::LogScanner,
    triggers: aho_corasick::AhoCorasick,
    json: bool,
    /// Lines before the current block.
    line_base: usize,
}

impl LogStream {
    fn new(scanner: gfp::logscan::LogScanner, json: bool) -> Self {
        // Leftmost-first lets the packed (Teddy) searcher run.
        let triggers = aho_corasick::AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::LeftmostFirst)
            .build(gfp::logscan::TRIGGERS)
            .expect("fixed patterns build");
        LogStream {
            scanner,
            triggers,
            json,
            line_base: 0,
        }
    }

    fn run(&mut self, input: &mut impl Read, out: &mut impl Write) -> std::io::Result<()> {
        const BLOCK: usize = 1 << 20;
        let mut buf: Vec<u8> = Vec::with_capacity(2 * BLOCK);
        let mut eof = false;
        while !eof {
            // Fill up to at least one block past what is pending.
            let start = buf.len();
            // `take` + `read_to_end` fills spare capacity without zeroing it.
            let n = input.take(BLOCK as u64).read_to_end(&mut buf)?;
            eof = n == 0;
            // Process every complete line; at EOF, the unterminated rest too.
            let end = if eof {
                buf.len()
            } else {
                match memchr::memrchr(b'\n', &buf[start..]) {
                    Some(i) => start + i + 1,
                    None => continue, // a line longer than a block: read more
                }
            };
            self.block(&buf[..end], out)?;
            buf.drain(..end);
        }
        Ok(())
    }

    /// Handles a block of whole lines (the last may lack its newline at EOF).
    fn block(&mut self, block: &[u8], out: &mut impl Write) -> std::io::Result<()> {
        let mut echoed = 0; // text mode: bytes of the block already written
        let mut counted = 0; // bytes whose newlines are in line_base
        let mut at = 0;
        while at < block.len() {
            let input = aho_corasick::Input::new(block).range(at..);
            let Some(m) = self.triggers.find(input) else {
                break;
            };
            let line_start = memchr::memrchr(b'\n', &block[..m.start()]).map_or(0, |i| i + 1);
            let line_end =
                memchr::memchr(b'\n', &block[m.start()..]).map_or(block.len(), |i| m.start() + i);
            self.line_base += memchr::memchr_iter(b'\n', &block[counted..line_start]).count();
            counted = line_start;
            let raw = &block[line_start..line_end];
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            let findings = self.scanner.scan_bytes(self.line_base + 1, raw);
            let next = (line_end + 1).min(block.len());
            if !findings.is_empty() {
                if self.json {
                    for f in &findings {
                        serde_json::to_writer(&mut *out, f)?;
                        out.write_all(b"\n")?;
                    }
                } else {
                    out.write_all(&block[echoed..line_end])?;
                    out.write_all(b"\n")?;
                    for f in &findings {
                        for l in gfp::logscan::annotate(f).lines() {
                            out.write_all(b"    | ")?;
                            out.write_all(l.trim_start().as_bytes())?;
                            out.write_all(b"\n")?;
                        }
                    }
                    echoed = next;
                }
            }
            at = next;
        }
        self.line_base += memchr::memchr_iter(b'\n', &block[counted..]).count();
        if !self.json {
            out.write_all(&block[echoed..])?;
            if block.len() > echoed && block.last() != Some(&b'\n') {
                out.write_all(b"\n")?;
            }
        }
        Ok(())
    }
}
