//! Registry credentials from where container tools keep them, first found
//! wins:
//!
//! 1. `DRBOOK_REGISTRY_USERNAME` and `DRBOOK_REGISTRY_PASSWORD` (both, for
//!    every registry this process talks to): a CI job's secret;
//! 2. the Docker configuration (`$DOCKER_CONFIG/config.json`, else
//!    `~/.docker/config.json`): the registry's `credHelpers` entry, run as
//!    `docker-credential-<name> get`; else its `auths` entry's `auth`
//!    (base64 `user:password`, what `docker login` writes without a store);
//!    else the `credsStore` helper;
//! 3. none: the registry is asked anonymously.
//!
//! A credential is never logged nor put in an error: messages name where
//! it came from ([`Credentials::from`]), not what it is.

use base64::Engine as _;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::OciError;

/// What a registry is asked with.
#[derive(Clone)]
pub struct Credentials {
    pub username: String,
    pub password: String,
    /// Where they came from, for messages: `DRBOOK_REGISTRY_USERNAME`,
    /// `/root/.docker/config.json (auths)`, `docker-credential-pass`.
    pub from: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

/// Where credentials are looked up: the environment as this process has it
/// (tests give their own).
#[derive(Debug, Clone, Default)]
pub struct Lookup {
    /// `DRBOOK_REGISTRY_USERNAME` / `_PASSWORD`.
    pub env_user: Option<String>,
    pub env_password: Option<String>,
    /// The Docker configuration file, if there is one.
    pub docker_config: Option<PathBuf>,
}

impl Lookup {
    /// From this process's environment.
    pub fn from_env() -> Lookup {
        let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
        let dir = var("DOCKER_CONFIG")
            .map(PathBuf::from)
            .or_else(|| dirs::home_dir().map(|home| home.join(".docker")));
        Lookup {
            env_user: var("DRBOOK_REGISTRY_USERNAME"),
            env_password: var("DRBOOK_REGISTRY_PASSWORD"),
            docker_config: dir.map(|d| d.join("config.json")).filter(|f| f.is_file()),
        }
    }

    /// The credentials for `registry` (`host[:port]`), if any.
    pub fn for_registry(&self, registry: &str) -> Result<Option<Credentials>, OciError> {
        match (&self.env_user, &self.env_password) {
            (Some(username), Some(password)) => {
                return Ok(Some(Credentials {
                    username: username.clone(),
                    password: password.clone(),
                    from: "DRBOOK_REGISTRY_USERNAME and DRBOOK_REGISTRY_PASSWORD".into(),
                }))
            }
            (Some(_), None) | (None, Some(_)) => {
                return Err(OciError::Credentials {
                    problem:
                        "only one of DRBOOK_REGISTRY_USERNAME and DRBOOK_REGISTRY_PASSWORD is \
                              set; set both, or neither to use the Docker configuration"
                            .into(),
                })
            }
            (None, None) => {}
        }
        match &self.docker_config {
            Some(file) => docker_config(file, registry),
            None => Ok(None),
        }
    }
}

/// `config.json` as Docker writes it; the fields drbook reads.
#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default)]
    cred_helpers: BTreeMap<String, String>,
    creds_store: Option<String>,
}

#[derive(serde::Deserialize, Default)]
struct AuthEntry {
    auth: Option<String>,
}

fn docker_config(file: &Path, registry: &str) -> Result<Option<Credentials>, OciError> {
    let bad = |problem: String| OciError::Credentials {
        problem: format!("{}: {problem}", file.display()),
    };
    let text = std::fs::read_to_string(file).map_err(|e| bad(format!("cannot read it: {e}")))?;
    let config: DockerConfig = serde_json::from_str(&text).map_err(|e| {
        bad(format!(
            "it is not Docker's configuration ({e}); fix it, or point DOCKER_CONFIG at another directory"
        ))
    })?;
    if let Some(helper) = config.cred_helpers.get(registry) {
        return helper_get(helper, registry);
    }
    // `docker login` keys entries by host, by URL in older versions.
    let entry = [
        registry.to_string(),
        format!("https://{registry}"),
        format!("http://{registry}"),
        format!("https://{registry}/v1/"),
    ]
    .iter()
    .find_map(|key| config.auths.get(key).and_then(|e| e.auth.clone()))
    .filter(|auth| !auth.is_empty());
    if let Some(auth) = entry {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .ok()
            .and_then(|raw| String::from_utf8(raw).ok());
        let Some((username, password)) = decoded.as_deref().and_then(|d| d.split_once(':')) else {
            return Err(bad(format!(
                "the `auth` of auths.\"{registry}\" is not base64 of `user:password`; \
                 log in again (`docker login {registry}`)"
            )));
        };
        return Ok(Some(Credentials {
            username: username.to_string(),
            password: password.to_string(),
            from: format!("{} (auths)", file.display()),
        }));
    }
    match &config.creds_store {
        Some(helper) if !helper.is_empty() => helper_get(helper, registry),
        _ => Ok(None),
    }
}

/// `docker-credential-<helper> get` for `registry`: the credential helper
/// protocol (the server on stdin, `{"Username", "Secret"}` on stdout). A
/// helper that has none for the registry answers so, and the registry is
/// asked anonymously.
fn helper_get(helper: &str, registry: &str) -> Result<Option<Credentials>, OciError> {
    let program = format!("docker-credential-{helper}");
    let failed = |problem: String| OciError::Credentials {
        problem: format!("{program} get: {problem}"),
    };
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            failed(format!(
                "cannot run it ({e}): the Docker configuration names the credential helper `{helper}`; \
                 install {program} on the PATH, or remove it from the configuration and set \
                 DRBOOK_REGISTRY_USERNAME and DRBOOK_REGISTRY_PASSWORD"
            ))
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(registry.as_bytes());
    }
    let output = child
        .wait_with_output()
        .map_err(|e| failed(format!("it did not finish: {e}")))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        if stdout.contains("credentials not found") {
            return Ok(None);
        }
        // Its output may echo what it was given, never a secret: the
        // protocol's errors are messages.
        return Err(failed(format!(
            "it failed ({}): {}; log in again (`docker login {registry}`)",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Answer {
        username: String,
        secret: String,
    }
    let answer: Answer = serde_json::from_str(&stdout).map_err(|_| {
        failed("its answer is not the helper protocol's JSON {\"Username\", \"Secret\"}".into())
    })?;
    Ok(Some(Credentials {
        username: answer.username,
        password: answer.secret,
        from: program,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> (tempfile::TempDir, Lookup) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.json");
        std::fs::write(&file, json).unwrap();
        let lookup = Lookup {
            docker_config: Some(file),
            ..Lookup::default()
        };
        (dir, lookup)
    }

    #[test]
    fn the_environment_comes_first_then_docker_s_auths() {
        let auth = base64::engine::general_purpose::STANDARD.encode("alice:s3cret");
        let (_dir, mut lookup) = config(&format!(
            r#"{{"auths": {{"reg:5000": {{"auth": "{auth}"}}, "https://other": {{"auth": "{auth}"}}}}}}"#
        ));
        let found = lookup.for_registry("reg:5000").unwrap().unwrap();
        assert_eq!(
            (found.username.as_str(), found.password.as_str()),
            ("alice", "s3cret")
        );
        assert!(
            found.from.ends_with("config.json (auths)"),
            "{}",
            found.from
        );
        assert!(
            !format!("{found:?}").contains("s3cret"),
            "Debug shows no secret"
        );
        assert_eq!(
            lookup.for_registry("other").unwrap().unwrap().username,
            "alice"
        );
        assert!(lookup.for_registry("nowhere").unwrap().is_none());
        lookup.env_user = Some("ci".into());
        let err = lookup.for_registry("reg:5000").unwrap_err().to_string();
        assert!(
            err.contains("only one of DRBOOK_REGISTRY_USERNAME"),
            "{err}"
        );
        lookup.env_password = Some("token".into());
        let found = lookup.for_registry("reg:5000").unwrap().unwrap();
        assert_eq!(
            (found.username.as_str(), found.password.as_str()),
            ("ci", "token")
        );
    }

    #[test]
    fn a_helper_that_is_not_installed_is_named_with_the_fix() {
        let (_dir, lookup) = config(r#"{"credsStore": "drbook-absent-helper"}"#);
        let err = lookup.for_registry("reg:5000").unwrap_err().to_string();
        assert!(
            err.contains("docker-credential-drbook-absent-helper"),
            "{err}"
        );
        assert!(err.contains("install"), "{err}");
        let (_dir, lookup) = config(r#"{"auths": {"reg": {"auth": "not base64!"}}}"#);
        let err = lookup.for_registry("reg").unwrap_err().to_string();
        assert!(err.contains("docker login reg"), "{err}");
        let (_dir, lookup) = config("{not json");
        let err = lookup.for_registry("reg").unwrap_err().to_string();
        assert!(err.contains("DOCKER_CONFIG"), "{err}");
    }
}
