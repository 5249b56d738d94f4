//! Feeds arbitrary text to the kernel-source reader behind
//! `gfp profile --from-source` (`gfp::profile::source::derive`): its C
//! preprocessor, enum and expression evaluator, name-table reader, Makefile
//! version reader and `.config` reader.
//!
//! The input is split at lines that are exactly `@@@` into up to six parts:
//! `include/linux/gfp_types.h`, `include/linux/gfp.h`,
//! `include/trace/events/mmflags.h`, `include/trace/events/gfpflags.h`,
//! `Makefile` and the `.config` (an absent or empty part is a missing file).
//! A derived profile must pass `Profile::validate`.
#![no_main]

use gfp::profile::source::{self, GFPFLAGS_H, GFP_H, GFP_TYPES_H, MAKEFILE, MMFLAGS_H};
use gfp::KernelConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts: Vec<&str> = text.split("\n@@@\n").collect();
    parts.resize(6, "");
    let files = [GFP_TYPES_H, GFP_H, MMFLAGS_H, GFPFLAGS_H, MAKEFILE];
    let read = |path: &str| -> Option<String> {
        let i = files.iter().position(|f| *f == path)?;
        (!parts[i].is_empty()).then(|| parts[i].to_string())
    };
    let config = (!parts[5].is_empty()).then_some(parts[5]);
    if let Ok(p) = source::derive(&read, config) {
        p.validate()
            .unwrap_or_else(|e| panic!("derived profile does not validate: {e}"));
        let _ = gfp::render::pgg(&p, p.bits_mask);
        let _ = gfp::render::trace(&p, p.bits_mask);
    }
    if let Ok(p) = source::derive_with_options(&read, KernelConfig::ALL_ON) {
        p.validate()
            .unwrap_or_else(|e| panic!("derived profile does not validate: {e}"));
    }
});
