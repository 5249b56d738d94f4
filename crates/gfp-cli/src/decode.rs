//! `gfp decode`: masks on the command line, or kernel logs on stdin.

use std::io::{BufRead, Write};
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
    /// Masks: hex (0x140cca), decimal, or names (GFP_KERNEL|__GFP_NOWARN).
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
    let mut scanner = gfp::logscan::LogScanner::new(gfp::logscan::ScanOptions { profile: forced });
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::new(stdout.lock());
    let mut buf = Vec::new();
    let mut line_no = 0usize;
    let io = |e: std::io::Error| UserError(format!("reading stdin: {e}"));
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf).map_err(io)? == 0 {
            break;
        }
        line_no += 1;
        let line = String::from_utf8_lossy(&buf);
        let line = line.trim_end_matches(['\n', '\r']);
        let findings = scanner.scan_line(line_no, line);
        let res = if args.json {
            findings.iter().try_for_each(|f| {
                let text = serde_json::to_string(f).map_err(std::io::Error::other)?;
                writeln!(w, "{text}")
            })
        } else {
            (|| {
                writeln!(w, "{line}")?;
                for f in &findings {
                    for l in gfp::logscan::annotate(f).lines() {
                        writeln!(w, "    | {l}")?;
                    }
                }
                Ok(())
            })()
        };
        if let Err(e) = res {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                return Ok(ExitCode::SUCCESS);
            }
            return Err(UserError(e.to_string()));
        }
    }
    w.flush().ok();
    Ok(ExitCode::SUCCESS)
}
