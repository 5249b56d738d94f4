//! The profile options every command shares: `--kernel`, `--config`, `--profile`.

use std::path::PathBuf;

use clap::Args;
use gfp::profile::{history, KernelConfig, KernelVersion, Profile};

use crate::UserError;

/// Which kernel's layout and names to use.
#[derive(Args, Clone, Default)]
pub struct ProfileArgs {
    /// Kernel version, 3.0 or later (e.g. 6.12, 5.4.0-42-generic); a release
    /// after 7.1 uses the 7.1 layout, with a warning. Default: the newest
    /// known release.
    #[arg(long, value_name = "VER")]
    pub kernel: Option<String>,
    /// A layout-moving Kconfig option, CONFIG_X=y or CONFIG_X=n (LOCKDEP,
    /// KASAN_HW_TAGS, SLAB_OBJ_EXT, KMEMCHECK, and MEMCG or
    /// MEM_ALLOC_PROFILING, which select SLAB_OBJ_EXT), or a .config file;
    /// repeatable. An option the kernel version lacks is refused.
    /// Default: a typical x86_64 distribution configuration of that version.
    #[arg(long = "config", value_name = "CONFIG_X=y|n|FILE", value_parser = clap::value_parser!(std::ffi::OsString))]
    pub config: Vec<std::ffi::OsString>,
    /// A profile file written by `gfp profile` (overrides --kernel and --config).
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
}

impl ProfileArgs {
    /// Whether the user chose a profile at all.
    pub fn is_given(&self) -> bool {
        self.kernel.is_some() || !self.config.is_empty() || self.profile.is_some()
    }

    /// The profile the options select. A version newer than the newest
    /// known release gets that release's layout, with a warning on stderr.
    pub fn resolve(&self) -> Result<Profile, UserError> {
        if let Some(path) = &self.profile {
            return load_profile(path);
        }
        let version = match &self.kernel {
            Some(v) => parse_kernel(v)?,
            None => history::NEWEST_KNOWN,
        };
        let mut config = history::distro_config(version);
        for opt in &self.config {
            apply_config(&mut config, opt, version)?;
        }
        if version.release() > history::NEWEST_KNOWN {
            eprintln!(
                "gfp: warning: Linux {version} is newer than the newest known release {}; using the {} layout",
                history::NEWEST_KNOWN,
                history::NEWEST_KNOWN
            );
        }
        Ok(Profile::for_version(version, config))
    }
}

/// `--kernel VER`: a release the built-in profiles cover, or a later one.
pub fn parse_kernel(text: &str) -> Result<KernelVersion, UserError> {
    let v: KernelVersion = text.parse()?;
    if v.release() < history::OLDEST_KNOWN {
        return Err(UserError(format!(
            "--kernel {text}: the built-in profiles cover Linux {} to {} (later releases use the {} layout); for an older kernel derive a profile with `gfp profile --from-source DIR`",
            history::OLDEST_KNOWN,
            history::NEWEST_KNOWN,
            history::NEWEST_KNOWN
        )));
    }
    Ok(v)
}

/// Applies one `--config` argument: `CONFIG_X=y` or `CONFIG_X=n` (the
/// `CONFIG_` prefix and the case of y and n optional), or the path of a
/// `.config` file, whose layout-moving options are applied.
pub fn apply_config(
    config: &mut KernelConfig,
    opt: &std::ffi::OsStr,
    version: KernelVersion,
) -> Result<(), UserError> {
    let Some(opt) = opt.to_str() else {
        // Not UTF-8: only a path can be.
        return apply_dot_config(config, std::path::Path::new(opt), version);
    };
    let Some((name, value)) = opt.split_once('=') else {
        let path = std::path::Path::new(opt);
        if path.is_file() || opt.contains('/') || opt.ends_with(".config") {
            return apply_dot_config(config, path, version);
        }
        return Err(UserError(format!(
            "--config {opt}: give a value, {opt}=y or {opt}=n (or the path of a .config file)"
        )));
    };
    let name = name.trim();
    if name.is_empty() {
        return Err(UserError(format!(
            "--config {opt}: no option name; expected CONFIG_X=y or CONFIG_X=n"
        )));
    }
    let on = match value.trim() {
        "y" | "Y" => true,
        "n" | "N" => false,
        "" => {
            return Err(UserError(format!(
                "--config {opt}: no value; expected {name}=y or {name}=n"
            )))
        }
        "m" | "M" => {
            return Err(UserError(format!(
                "--config {opt}: the options that move GFP bits are bool, not tristate: give y or n"
            )))
        }
        other => {
            return Err(UserError(format!(
                "--config {opt}: value `{other}` is not y or n"
            )))
        }
    };
    set_option(config, name, on, version).map_err(|e| UserError(format!("--config {opt}: {e}")))
}

/// Sets one option, refusing one that does not move GFP bits or that the
/// kernel version lacks.
fn set_option(
    config: &mut KernelConfig,
    name: &str,
    on: bool,
    version: KernelVersion,
) -> Result<(), String> {
    let mut probe = *config;
    if !probe.set(name, on) {
        return Err(format!(
            "{name} does not move GFP bits; the options that do are {}",
            KernelConfig::OPTIONS.join(", ")
        ));
    }
    KernelConfig::exists_in(name, version)
        .map_err(|e| format!("{e}, not in Linux {}", version.release()))?;
    *config = probe;
    Ok(())
}

/// Applies the layout-moving options of a `.config` file
/// (`CONFIG_X=y`, `# CONFIG_X is not set`); the others are ignored.
fn apply_dot_config(
    config: &mut KernelConfig,
    path: &std::path::Path,
    version: KernelVersion,
) -> Result<(), UserError> {
    let bytes = crate::read_input_file(path, ".config")
        .map_err(|UserError(e)| UserError(format!("--config {}: {e}", path.display())))?;
    let text = String::from_utf8_lossy(&bytes);
    let mut any = false;
    for line in text.lines() {
        let line = line.trim();
        let (name, on) = if let Some(n) = line
            .strip_prefix("# ")
            .and_then(|l| l.strip_suffix(" is not set"))
        {
            (n, false)
        } else if let Some((n, v)) = line.split_once('=') {
            if !n.starts_with("CONFIG_") {
                continue;
            }
            (n, matches!(v, "y" | "m"))
        } else {
            continue;
        };
        any |= name.starts_with("CONFIG_");
        if KernelConfig::OPTIONS.contains(&name)
            || matches!(name, "CONFIG_MEMCG" | "CONFIG_MEM_ALLOC_PROFILING")
        {
            // A .config only holds the options its kernel has.
            let _ = KernelConfig::exists_in(name, version).map(|()| config.set(name, on));
        }
    }
    if !any {
        return Err(UserError(format!(
            "--config {}: not a kernel .config (no CONFIG_ lines); give CONFIG_X=y|n or a .config file",
            path.display()
        )));
    }
    Ok(())
}

/// Reads a profile file (JSON, as `gfp profile` writes it) and checks it.
pub fn load_profile(path: &std::path::Path) -> Result<Profile, UserError> {
    let text = crate::read_input_text(path, "profile")?;
    let profile: Profile = serde_json::from_str(&text).map_err(|e| {
        UserError(format!(
            "{} is not a gfp profile (write one with `gfp profile --from-source DIR -o FILE`): {e}",
            path.display()
        ))
    })?;
    profile
        .validate()
        .map_err(|e| UserError(format!("{}: {e}", path.display())))?;
    Ok(profile)
}
