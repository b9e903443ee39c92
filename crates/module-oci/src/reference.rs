//! `oci://HOST[:PORT]/REPO[:TAG][@sha256:DIGEST]`: what names a runbook in
//! a registry, parsed by the grammar of the OCI distribution specification
//! (lowercase repository components, tags of at most 128 characters, sha256
//! digests only: what jobs are pinned to).
//!
//! A reference names a tag, a digest, or both (`repo:tag@sha256:...`, what
//! a job records: the tag it was asked for and the manifest it resolved to).
//! A bare `oci://host/repo` is refused rather than read as `:latest`: a DR
//! runbook is run by a name someone chose, not by whatever was pushed last.

use std::fmt;

use crate::OciError;

/// The scheme every registry reference starts with.
pub const SCHEME: &str = "oci://";

/// A parsed `oci://` reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `host[:port]`, as written.
    pub registry: String,
    /// `org/failover_plan`: path components, lowercase.
    pub repository: String,
    pub tag: Option<String>,
    /// The manifest's `sha256:<hex>`.
    pub digest: Option<String>,
}

const FORM: &str =
    "write it as oci://HOST[:PORT]/REPO:TAG or oci://HOST[:PORT]/REPO@sha256:DIGEST \
                    (e.g. oci://registry.example.com/dr/failover_plan:v1)";

impl std::str::FromStr for Reference {
    type Err = OciError;

    fn from_str(text: &str) -> Result<Self, OciError> {
        let bad = |problem: String| OciError::BadReference {
            reference: text.to_string(),
            problem: format!("{problem}; {FORM}"),
        };
        let rest = text
            .strip_prefix(SCHEME)
            .ok_or_else(|| bad(format!("it does not start with `{SCHEME}`")))?;
        let (registry, path) = rest
            .split_once('/')
            .ok_or_else(|| bad("it names a registry but no repository".into()))?;
        check_registry(registry).map_err(&bad)?;
        let (path, digest) = match path.split_once('@') {
            Some((path, digest)) => (path, Some(check_digest(digest).map_err(&bad)?)),
            None => (path, None),
        };
        // A tag follows the last `:` after the last `/`.
        let last = path.rfind('/').map_or(0, |i| i + 1);
        let (repository, tag) = match path[last..].find(':') {
            Some(i) => (&path[..last + i], Some(&path[last + i + 1..])),
            None => (path, None),
        };
        check_repository(repository).map_err(&bad)?;
        if let Some(tag) = tag {
            check_tag(tag).map_err(&bad)?;
        }
        if tag.is_none() && digest.is_none() {
            return Err(bad(
                "it names no tag and no digest (drbook does not guess `latest`)".into(),
            ));
        }
        Ok(Reference {
            registry: registry.to_string(),
            repository: repository.to_string(),
            tag: tag.map(str::to_string),
            digest,
        })
    }
}

impl Reference {
    /// Whether `text` is meant as a registry reference (not a file path).
    pub fn is_oci(text: &str) -> bool {
        text.starts_with(SCHEME)
    }

    /// The runbook's name, which the trust policy's rules match: the
    /// repository's last component (`oci://reg/dr/failover_plan:v1` is
    /// `failover_plan`, as the file `failover_plan.wasm` is).
    pub fn name(&self) -> &str {
        self.repository
            .rsplit('/')
            .next()
            .unwrap_or(&self.repository)
    }

    /// This reference pinned to manifest `digest`, keeping its tag: what a
    /// job records as its module's source.
    pub fn pinned(&self, digest: &str) -> Reference {
        Reference {
            digest: Some(digest.to_string()),
            ..self.clone()
        }
    }

    /// The host without its port, for the loopback check.
    pub fn host(&self) -> &str {
        host_of(&self.registry)
    }

    /// The same reference in oci-client's terms.
    pub(crate) fn to_client(&self) -> oci_client::Reference {
        match (&self.tag, &self.digest) {
            (Some(tag), Some(digest)) => oci_client::Reference::with_tag_and_digest(
                self.registry.clone(),
                self.repository.clone(),
                tag.clone(),
                digest.clone(),
            ),
            (_, Some(digest)) => oci_client::Reference::with_digest(
                self.registry.clone(),
                self.repository.clone(),
                digest.clone(),
            ),
            (tag, None) => oci_client::Reference::with_tag(
                self.registry.clone(),
                self.repository.clone(),
                tag.clone().unwrap_or_default(),
            ),
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// `host` of `host:port`, `[::1]` of `[::1]:5000`.
pub(crate) fn host_of(registry: &str) -> &str {
    if let Some(end) = registry.strip_prefix('[').and_then(|r| r.find(']')) {
        return &registry[..end + 2];
    }
    registry.split(':').next().unwrap_or(registry)
}

fn check_registry(registry: &str) -> Result<(), String> {
    let fix = |what: &str| format!("its registry `{registry}` {what}");
    if registry.is_empty() {
        return Err(fix("is empty"));
    }
    let host = host_of(registry);
    let port = &registry[host.len()..];
    if let Some(port) = port.strip_prefix(':') {
        if port.parse::<u16>().is_err() {
            return Err(fix("has a port that is not a number from 0 to 65535"));
        }
    } else if !port.is_empty() {
        return Err(fix("is not a host name or address"));
    }
    let bracketed = host.starts_with('[') && host.ends_with(']');
    let ok = if bracketed {
        host[1..host.len() - 1]
            .parse::<std::net::Ipv6Addr>()
            .is_ok()
    } else {
        !host.is_empty()
            && host.split('.').all(|label| {
                !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
    };
    if ok {
        Ok(())
    } else {
        Err(fix("is not a host name or address"))
    }
}

/// Path components `[a-z0-9]+` joined by `.`, `_`, `__` or runs of `-`.
fn check_repository(repository: &str) -> Result<(), String> {
    let component_ok = |c: &str| {
        let bytes = c.as_bytes();
        let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
            return false;
        }
        let mut i = 0;
        while i < bytes.len() {
            if alnum(bytes[i]) {
                i += 1;
                continue;
            }
            let start = i;
            while i < bytes.len() && !alnum(bytes[i]) {
                i += 1;
            }
            let sep = &c[start..i];
            if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-')) {
                return false;
            }
        }
        true
    };
    if !repository.is_empty() && repository.split('/').all(component_ok) {
        Ok(())
    } else {
        Err(format!(
            "its repository `{repository}` is not one: lowercase letters and digits, separated by \
             `.`, `_`, `__` or `-`, in components joined by `/`"
        ))
    }
}

fn check_tag(tag: &str) -> Result<(), String> {
    let mut chars = tag.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if first_ok && rest_ok && tag.len() <= 128 {
        Ok(())
    } else {
        Err(format!(
            "its tag `{tag}` is not one: up to 128 letters, digits, `_`, `.` and `-`, not \
             starting with `.` or `-`"
        ))
    }
}

fn check_digest(digest: &str) -> Result<String, String> {
    match digest.strip_prefix("sha256:") {
        Some(hex)
            if hex.len() == 64
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) =>
        {
            Ok(digest.to_string())
        }
        _ => Err(format!(
            "its digest `{digest}` is not `sha256:` and 64 lowercase hex digits"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn references_parse_with_a_tag_a_digest_or_both() {
        let r: Reference = "oci://127.0.0.1:5000/dr/failover_plan:v1".parse().unwrap();
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "dr/failover_plan");
        assert_eq!(r.tag.as_deref(), Some("v1"));
        assert_eq!(r.name(), "failover_plan");
        assert_eq!(r.host(), "127.0.0.1");
        let pinned = r.pinned(D);
        assert_eq!(
            pinned.to_string(),
            format!("oci://127.0.0.1:5000/dr/failover_plan:v1@{D}")
        );
        assert_eq!(pinned.to_string().parse::<Reference>().unwrap(), pinned);
        let by_digest: Reference = format!("oci://[::1]:5000/x@{D}").parse().unwrap();
        assert_eq!(by_digest.host(), "[::1]");
        assert_eq!(by_digest.tag, None);
        assert_eq!(by_digest.digest.as_deref(), Some(D));
        let plain: Reference = "oci://reg.example.com/a-b/c__d.e:1.0-rc_1".parse().unwrap();
        assert_eq!(plain.host(), "reg.example.com");
    }

    #[test]
    fn a_reference_that_does_not_parse_says_why_and_how_to_write_it() {
        for (text, problem) in [
            ("failover_plan.wasm", "does not start with `oci://`"),
            ("oci://reg:5000", "no repository"),
            ("oci://reg:port/x:v1", "port that is not a number"),
            ("oci://reg/x", "no tag and no digest"),
            ("oci://reg/Failover:v1", "repository `Failover` is not one"),
            ("oci://reg/x/:v1", "repository `x/` is not one"),
            ("oci://reg/x:-v1", "tag `-v1` is not one"),
            ("oci://reg/x@sha256:abc", "digest `sha256:abc` is not"),
            ("oci://reg/x@md5:abc", "digest `md5:abc` is not"),
            ("oci:///x:v1", "registry `` is empty"),
        ] {
            let err = text.parse::<Reference>().unwrap_err().to_string();
            assert!(err.contains(problem), "{text}: {err}");
            assert!(err.contains(text), "{text}: {err}");
            assert!(err.contains("write it as oci://"), "{text}: {err}");
        }
    }
}
