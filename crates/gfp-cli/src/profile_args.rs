//! The profile options every command shares: `--kernel`, `--config`, `--profile`.

use std::path::PathBuf;

use clap::Args;
use gfp::profile::{history, KernelConfig, KernelVersion, Profile};

use crate::UserError;

/// Which kernel's layout and names to use.
#[derive(Args, Clone, Default)]
pub struct ProfileArgs {
    /// Kernel version (e.g. 6.12, 5.4.0-42-generic). Default: the newest known release.
    #[arg(long, value_name = "VER")]
    pub kernel: Option<String>,
    /// A layout-moving Kconfig option, e.g. CONFIG_LOCKDEP=y (repeatable).
    /// Default: a typical x86_64 distribution configuration of that version.
    #[arg(long = "config", value_name = "CONFIG_X=y|n")]
    pub config: Vec<String>,
    /// A profile file written by `gfp profile` (overrides --kernel and --config).
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
}

impl ProfileArgs {
    /// Whether the user chose a profile at all.
    pub fn is_given(&self) -> bool {
        self.kernel.is_some() || !self.config.is_empty() || self.profile.is_some()
    }

    /// The profile the options select.
    pub fn resolve(&self) -> Result<Profile, UserError> {
        if let Some(path) = &self.profile {
            return load_profile(path);
        }
        let version = match &self.kernel {
            Some(v) => v.parse::<KernelVersion>()?,
            None => history::NEWEST_KNOWN,
        };
        let mut config = history::distro_config(version);
        for opt in &self.config {
            apply_config(&mut config, opt)?;
        }
        Ok(Profile::for_version(version, config))
    }
}

/// Applies one `CONFIG_X=y|n` option.
pub fn apply_config(config: &mut KernelConfig, opt: &str) -> Result<(), UserError> {
    let (name, value) = opt.split_once('=').unwrap_or((opt, "y"));
    let on = match value.trim() {
        "y" | "m" | "1" | "on" | "yes" => true,
        "n" | "0" | "off" | "no" => false,
        other => {
            return Err(UserError(format!(
                "--config {opt}: value `{other}` is not y or n"
            )))
        }
    };
    if !config.set(name.trim(), on) {
        return Err(UserError(format!(
            "--config {opt}: {name} does not move GFP bits; the options that do are {}",
            KernelConfig::OPTIONS.join(", ")
        )));
    }
    Ok(())
}

/// Reads a profile file (JSON, as `gfp profile` writes it) and checks it.
pub fn load_profile(path: &std::path::Path) -> Result<Profile, UserError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| UserError(format!("cannot read profile {}: {e}", path.display())))?;
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
