//! `gfp decode`: masks on the command line, or kernel logs on stdin.

use std::io::{Read, Write};
use std::process::ExitCode;

use clap::Args;
use gfp::parse::parse_mask;
use gfp::profile::Profile;
use gfp::render;
use serde::Serialize;

use crate::profile_args::ProfileArgs;
use crate::{CmdResult, UserError};

/// Arguments of `gfp decode`.
#[derive(Args)]
pub struct DecodeArgs {
    #[command(flatten)]
    profile: ProfileArgs,
    /// Print the tracepoint form (`show_gfp_flags`) instead of `%#x(%pGg)`.
    #[arg(long)]
    trace: bool,
    /// JSON Lines: one JSON object per line of output, for each MASK
    /// (`{"mask", "profile", "rendered", "trace", "flags", ...}`) or, reading
    /// a log, for each mask found (`{"line", "message", "mask", "printed",
    /// ...}`).
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
        // JSON Lines, as for stdin: one object per mask.
        let stdout = std::io::stdout();
        let mut w = stdout.lock();
        for d in &out {
            serde_json::to_writer(&mut w, d)
                .map_err(|e| UserError(format!("writing the output: {e}")))?;
            writeln!(w).map_err(|e| UserError(format!("writing the output: {e}")))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let stdout = std::io::stdout();
    let mut w = stdout.lock();
    for d in &out {
        let line = if args.trace { &d.trace } else { &d.rendered };
        writeln!(w, "{line}").map_err(|e| UserError(format!("writing the output: {e}")))?;
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
    let reports = gfp::logscan::ReportScanner::new(gfp::logscan::ScanOptions { profile: forced });
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut stream = LogStream::new(reports, args.json);
    let res = stream
        .run(&mut stdin.lock(), &mut out)
        .and_then(|()| out.flush());
    match res {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(UserError(format!("decoding stdin: {e}"))),
    }
}

type Settled = (usize, Vec<gfp::logscan::Finding>);

/// The longest line scanned for masks; longer ones are passed through
/// unscanned, so that a log without newlines (`gfp decode < /dev/zero`)
/// needs bounded memory.
const MAX_LINE: usize = 16 << 20;

/// Streams a log through the scanner in large blocks.
///
/// The blocks are searched for the scanner's trigger tokens with a SIMD
/// multi-pattern search; only the lines that hold one, and the short lines
/// that start with a digit (a bare mask), reach the scanner, and text mode
/// echoes everything else in bulk. A mask line waits for its report's
/// banner (`ReportScanner`): in text mode it is written, with what followed
/// it, once settled.
struct LogStream {
    reports: gfp::logscan::ReportScanner,
    triggers: aho_corasick::AhoCorasick,
    json: bool,
    /// Lines before the current block.
    line_base: usize,
    /// Text mode: the line held for its banner, and the text after it.
    held: Option<(usize, Vec<u8>)>,
    after: Vec<u8>,
}

/// Where the current block has got to.
struct Cursor {
    /// Bytes of the block already written (text mode) or passed.
    echoed: usize,
    /// Bytes whose newlines are in `line_base`.
    counted: usize,
}

impl LogStream {
    fn new(reports: gfp::logscan::ReportScanner, json: bool) -> Self {
        // Leftmost-first lets the packed (Teddy) searcher run.
        let triggers = aho_corasick::AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::LeftmostFirst)
            .build(gfp::logscan::TRIGGERS)
            .expect("fixed patterns build");
        LogStream {
            reports,
            triggers,
            json,
            line_base: 0,
            held: None,
            after: Vec::new(),
        }
    }

    fn run(&mut self, input: &mut impl Read, out: &mut impl Write) -> std::io::Result<()> {
        const BLOCK: usize = 1 << 20;
        let mut buf: Vec<u8> = Vec::with_capacity(2 * BLOCK);
        let mut eof = false;
        // Inside a line longer than MAX_LINE: passed through unscanned.
        let mut skipping = false;
        while !eof {
            // Fill up to at least one block past what is pending.
            let mut start = buf.len();
            // `take` + `read_to_end` fills spare capacity without zeroing it.
            let n = input.take(BLOCK as u64).read_to_end(&mut buf)?;
            eof = n == 0;
            if skipping {
                match memchr::memchr(b'\n', &buf) {
                    Some(i) => {
                        self.emit(&buf[..=i], out)?;
                        buf.drain(..=i);
                        self.line_base += 1;
                        skipping = false;
                        start = 0;
                    }
                    None => {
                        self.emit(&buf, out)?;
                        if eof {
                            self.emit(b"\n", out)?;
                        }
                        buf.clear();
                        continue;
                    }
                }
            }
            // Process every complete line; at EOF, the unterminated rest too.
            let end = if eof {
                buf.len()
            } else {
                match memchr::memrchr(b'\n', &buf[start..]) {
                    Some(i) => start + i + 1,
                    None if buf.len() > MAX_LINE => {
                        // No kernel prints such a line: pass it through
                        // without scanning, in bounded memory. A line held
                        // for its banner is settled: none comes mid-line.
                        if let Some(s) = self.reports.expire(usize::MAX) {
                            self.settle(s, out)?;
                        }
                        self.emit(&buf, out)?;
                        buf.clear();
                        skipping = true;
                        continue;
                    }
                    None => continue, // a line longer than a block: read more
                }
            };
            self.block(&buf[..end], out)?;
            buf.drain(..end);
        }
        if let Some(s) = self.reports.finish() {
            self.settle(s, out)?;
        }
        out.write_all(&self.after)?;
        self.after.clear();
        Ok(())
    }

    /// Writes plain text: after the held line when one is waiting.
    fn emit(&mut self, text: &[u8], out: &mut impl Write) -> std::io::Result<()> {
        if self.json {
            return Ok(());
        }
        if self.held.is_some() {
            self.after.extend_from_slice(text);
            Ok(())
        } else {
            out.write_all(text)
        }
    }

    /// Writes a settled line that was held: its text, its findings, and
    /// what came after it.
    fn settle(
        &mut self,
        (line_no, findings): Settled,
        out: &mut impl Write,
    ) -> std::io::Result<()> {
        if self.json {
            return write_json(&findings, out);
        }
        match self.held.take() {
            Some((n, text)) if n == line_no => {
                out.write_all(&text)?;
                out.write_all(b"\n")?;
                write_annotations(&findings, out)?;
                out.write_all(&self.after)?;
                self.after.clear();
                Ok(())
            }
            other => {
                self.held = other;
                Ok(())
            }
        }
    }

    /// Handles the line `block[start..end]` (without its newline).
    fn line(
        &mut self,
        block: &[u8],
        start: usize,
        end: usize,
        cur: &mut Cursor,
        out: &mut impl Write,
    ) -> std::io::Result<()> {
        self.line_base += memchr::memchr_iter(b'\n', &block[cur.counted..start]).count();
        cur.counted = start;
        let line_no = self.line_base + 1;
        let raw = &block[start..end];
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let settled = self.reports.scan_bytes(line_no, raw);
        let next = (end + 1).min(block.len());
        if self.json {
            for (_, f) in &settled {
                write_json(f, out)?;
            }
            return Ok(());
        }
        self.emit(&block[cur.echoed..start], out)?;
        cur.echoed = start;
        for s in settled {
            if s.0 == line_no {
                // This line, settled at once.
                self.emit(&block[start..end], out)?;
                self.emit(b"\n", out)?;
                let mut notes = Vec::new();
                write_annotations(&s.1, &mut notes)?;
                self.emit(&notes, out)?;
                cur.echoed = next;
            } else {
                self.settle(s, out)?;
            }
        }
        if self.reports.holding() == Some(line_no) {
            self.held = Some((line_no, block[start..end].to_vec()));
            cur.echoed = next;
        }
        Ok(())
    }

    /// Handles a block of whole lines (the last may lack its newline at EOF).
    fn block(&mut self, block: &[u8], out: &mut impl Write) -> std::io::Result<()> {
        let mut cur = Cursor {
            echoed: 0,
            counted: 0,
        };
        let mut at = 0;
        while at < block.len() {
            let input = aho_corasick::Input::new(block).range(at..);
            let (line_start, line_end) = match self.triggers.find(input) {
                Some(m) => (
                    memchr::memrchr(b'\n', &block[..m.start()]).map_or(0, |i| i + 1),
                    memchr::memchr(b'\n', &block[m.start()..])
                        .map_or(block.len(), |i| m.start() + i),
                ),
                None => (block.len(), block.len()),
            };
            self.skipped(block, at, line_start, &mut cur, out)?;
            if line_start == block.len() {
                break;
            }
            self.line(block, line_start, line_end, &mut cur, out)?;
            at = (line_end + 1).min(block.len());
        }
        self.line_base += memchr::memchr_iter(b'\n', &block[cur.counted..]).count();
        if !self.json {
            let rest = &block[cur.echoed..];
            self.emit(rest, out)?;
            if !rest.is_empty() && block.last() != Some(&b'\n') {
                self.emit(b"\n", out)?;
            }
        }
        Ok(())
    }

    /// The lines of `block[from..to]`, which hold no trigger token: only a
    /// bare mask among them is scanned, and a held line whose banner
    /// window they pass is settled.
    fn skipped(
        &mut self,
        block: &[u8],
        from: usize,
        to: usize,
        cur: &mut Cursor,
        out: &mut impl Write,
    ) -> std::io::Result<()> {
        let mut s = from;
        while s < to {
            let e = memchr::memchr(b'\n', &block[s..to]).map_or(to, |i| s + i);
            let raw = &block[s..e];
            if gfp::logscan::maybe_bare(raw) {
                self.line(block, s, e, cur, out)?;
            } else if let Some(held) = self.reports.holding() {
                let line_no =
                    self.line_base + 1 + memchr::memchr_iter(b'\n', &block[cur.counted..s]).count();
                if line_no > held + gfp::logscan::REPORT_BANNER_WINDOW {
                    self.line_base += memchr::memchr_iter(b'\n', &block[cur.counted..s]).count();
                    cur.counted = s;
                    self.emit(&block[cur.echoed..s], out)?;
                    cur.echoed = s;
                    if let Some(settled) = self.reports.expire(line_no) {
                        self.settle(settled, out)?;
                    }
                }
            }
            s = e + 1;
        }
        Ok(())
    }
}

fn write_json(findings: &[gfp::logscan::Finding], out: &mut impl Write) -> std::io::Result<()> {
    for f in findings {
        serde_json::to_writer(&mut *out, f)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

fn write_annotations(
    findings: &[gfp::logscan::Finding],
    out: &mut impl Write,
) -> std::io::Result<()> {
    for f in findings {
        for l in gfp::logscan::annotate(f).lines() {
            out.write_all(b"    | ")?;
            out.write_all(l.trim_start().as_bytes())?;
            out.write_all(b"\n")?;
        }
    }
    Ok(())
}
