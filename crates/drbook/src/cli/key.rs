//! `drbook key generate`: an ed25519 key pair for signing runbooks, as
//! OpenSSH or PEM files that ssh-keygen, openssl and wasmsign2 read too.

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Global, InputError, Outcome};
use drbook_signing::{KeyFormat, SigningKey};

#[derive(Args)]
pub struct KeyArgs {
    #[command(subcommand)]
    command: KeyCommand,
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Makes a key pair: FILE (the private key, readable by you only) and
    /// FILE.pub (the public key, for whoever verifies your signatures).
    Generate {
        /// Where to write the private key; never replaced.
        file: PathBuf,
        /// The files' format.
        #[arg(long, value_enum, default_value = "openssh")]
        format: Format,
        /// A comment kept in OpenSSH files, naming the key (default: your user name).
        #[arg(long)]
        comment: Option<String>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// `-----BEGIN OPENSSH PRIVATE KEY-----` and an `ssh-ed25519 ...` line, as ssh-keygen writes.
    Openssh,
    /// PKCS#8 and SPKI PEM, as openssl writes.
    Pem,
}

pub fn run(global: &Global, args: KeyArgs) -> anyhow::Result<Outcome> {
    let KeyCommand::Generate {
        file,
        format,
        comment,
    } = args.command;
    let format = match format {
        Format::Openssh => KeyFormat::OpenSsh,
        Format::Pem => KeyFormat::Pem,
    };
    let public_file = PathBuf::from(format!("{}.pub", file.display()));
    let key = SigningKey::generate(comment.unwrap_or_else(super::who))?;
    let public = key.public_key();
    // Both names are checked first, so that a refusal writes neither.
    for path in [&file, &public_file] {
        if path.exists() {
            return Err(InputError::new(format!(
                "{} exists, and drbook never replaces a key: remove it or choose another FILE",
                path.display()
            ))
            .into());
        }
    }
    write_new(&file, key.encode(format)?.as_bytes(), 0o600)?;
    write_new(&public_file, public.encode(format)?.as_bytes(), 0o644)?;
    if global.json {
        let doc = serde_json::json!({
            "private_key": file.display().to_string(),
            "public_key": public_file.display().to_string(),
            "fingerprint": public.fingerprint(),
            "comment": public.comment(),
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        println!("private key: {} (keep it secret)", file.display());
        println!(
            "public key:  {} (give it to whoever verifies your signatures)",
            public_file.display()
        );
        println!("fingerprint: {}", public.fingerprint());
    }
    Ok(Outcome::Success)
}

/// Writes `bytes` to a file that must not exist yet, created with `mode`
/// (less what the umask takes away), so that a private key is never
/// readable by others, not even for a moment. (`report` writes its signing
/// key with it too.)
pub(super) fn write_new(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options
        .open(path)
        .map_err(|e| InputError::new(format!("cannot create {}: {e}", path.display())))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}
