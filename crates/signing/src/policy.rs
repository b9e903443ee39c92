//! The trust policy: which organisations' keys must have signed a runbook
//! before a job may run it. Organisations hold public keys (each valid
//! until it expires, if it does); rules, tried in order, name runbooks by
//! name or glob and the organisations whose signatures they require, one
//! distinct key of each (an organisation named twice needs two of its keys):
//! `require = ["platform", "security-review"]` is "one key of `platform` and
//! one of `security-review`". The first rule whose pattern matches decides;
//! a runbook no rule matches is refused, so that a policy lists what it
//! admits rather than what it forgets to refuse.
//!
//! [`Trust`] is what the host holds: a policy, or none (no `[trust]` in
//! `drbook.toml`, where modules are admitted unchecked, as before policies
//! existed). It admits a module into a new job ([`Trust::admit`], the
//! [`Admission`] pinned to the job) and checks a job's pinned module again
//! when it is loaded ([`Trust::recheck`]), so that a policy that stopped
//! trusting a module stops its jobs too.

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;

use drbook_core::fabric::OperationKind;
use drbook_core::job::{Admission, AdmittedBy, Signer};
use drbook_core::scope::{Capabilities, Manifest, PolicyCap};

use crate::format::Layout;
use crate::manifest::{self, ManifestError};
use crate::verify::verify_layout;
use crate::{PublicKey, SignatureError};

/// An organisation and the keys that sign for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organisation {
    pub name: String,
    pub keys: Vec<TrustedKey>,
}

/// A key an organisation signs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedKey {
    pub key: PublicKey,
    /// After this, its signatures no longer count (a rotated key).
    pub expires: Option<DateTime<Utc>>,
}

/// Which runbooks need whose signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// What jobs record as the rule that admitted them.
    pub name: String,
    /// Runbook names (the module's file name without `.wasm`) or globs
    /// (`*` any text, `?` one character).
    pub runbooks: Vec<String>,
    /// Organisations, each needing one distinct key's signature.
    pub require: Vec<String>,
    /// The most the modules it admits may start, whatever their manifest
    /// declares (`operations = [...]`); `None`: no cap.
    pub operations: Option<Vec<OperationKind>>,
    /// Whether the modules it admits must carry a capability manifest
    /// (`require-manifest = true`): a module without one is refused.
    pub require_manifest: bool,
    /// The most HTTP destinations the modules it admits may reach, whatever
    /// their manifest declares (`http = ["https://*.contoso.com/"]`,
    /// patterns of `drbook_core::outside`); `None`: no cap.
    pub http: Option<Vec<String>>,
    /// The most Azure resources the modules it admits may call, whatever
    /// their manifest declares (`azure = ["/subscriptions/SUB/*"]`,
    /// patterns of `drbook_core::outside::azure`); `None`: no cap.
    pub azure: Option<Vec<String>>,
}

impl Rule {
    /// Its cap, as pinned with the jobs it admits: a rule that caps only
    /// HTTP leaves every operation.
    fn cap(&self) -> Option<PolicyCap> {
        if self.operations.is_none() && self.http.is_none() && self.azure.is_none() {
            return None;
        }
        Some(PolicyCap {
            rule: self.name.clone(),
            operations: self
                .operations
                .clone()
                .unwrap_or_else(|| OperationKind::ALL.to_vec()),
            http: self.http.clone(),
            azure: self.azure.clone(),
        })
    }
}

/// A policy whose rules name only its organisations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustPolicy {
    organisations: Vec<Organisation>,
    rules: Vec<Rule>,
}

/// Why a policy cannot be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyError {
    #[error("rule `{rule}` requires `{organisation}`, which is no organisation of the policy; add `[trust.organisations.{organisation}]` with its keys, or fix the name")]
    UnknownOrganisation { rule: String, organisation: String },
    #[error("rule `{rule}` requires no signer; name the organisations whose keys must sign (`require = [\"platform\"]`); to run unsigned modules in development, pass --allow-unsigned instead")]
    NothingRequired { rule: String },
    #[error(
        "rule `{rule}` names no runbook; add `runbooks = [\"NAME\"]` (a glob such as `dr_*` works)"
    )]
    NoRunbooks { rule: String },
    #[error("two rules are named `{rule}`; give each rule its own name, which jobs record")]
    DuplicateRule { rule: String },
    #[error("key {fingerprint} is in both `{first}` and `{second}`; a key signs for one organisation, so that two required signers are two people")]
    SharedKey {
        fingerprint: String,
        first: String,
        second: String,
    },
}

/// What a refusal tells to do, after what is wrong.
const SIGN_IT: &str = "sign it (`drbook runbook sign FILE --key KEY` adds a signature), \
                       or pass --allow-unsigned for development";

/// Why a module is not admitted.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("{problem}; add a `[[trust.rules]]` whose `runbooks` matches it, or pass --allow-unsigned for development", problem = self.problem())]
    NoRule { runbook: String },
    #[error("{problem}; {SIGN_IT}", problem = self.problem())]
    Unsigned {
        runbook: String,
        rule: String,
        /// `one key of `platform` and one key of `security-review``.
        required: String,
    },
    #[error("{problem}; {SIGN_IT}", problem = self.problem())]
    Missing {
        runbook: String,
        rule: String,
        /// `one key of `security-review``, ...
        missing: String,
        /// Who did sign, and whose signatures did not count.
        found: String,
        /// The signers that counted.
        signers: Vec<Signer>,
    },
    /// Altered after signing, or a broken signature section: refused even
    /// with `--allow-unsigned`, which is for modules nobody signed, not for
    /// modules someone changed.
    #[error("{problem}", problem = self.problem())]
    Broken {
        runbook: String,
        /// Part of the message, not a `source`: a chain printed whole says
        /// it once.
        error: SignatureError,
    },
    #[error("{problem}; declare what it needs with `drbook runbook grant FILE --operation OP ...` \
             and sign it again, or pass --allow-unsigned for development", problem = self.problem())]
    NoManifest { runbook: String, rule: String },
    /// A manifest drbook cannot use, or imports it does not declare:
    /// refused even with `--allow-unsigned`, as a broken module is.
    #[error("{problem}", problem = self.problem())]
    Manifest {
        runbook: String,
        error: ManifestError,
    },
    #[error(
        "its module was admitted {was}, and the trust policy refuses it now: {problem}{dropped}; \
         the job is failed: restore the key to the policy, or have the module signed by keys \
         the policy trusts, and start a new job",
        problem = now.problem()
    )]
    NoLongerTrusted {
        was: String,
        /// `; what changed: ...` for the signers that counted then and not
        /// now, or empty.
        dropped: String,
        now: Box<TrustError>,
    },
}

impl TrustError {
    /// What is wrong, without what to do about it: what a re-check quotes,
    /// and what a caller whose fix differs (a re-pin) says.
    pub fn problem(&self) -> String {
        match self {
            TrustError::NoRule { runbook } => {
                format!("no rule of the trust policy covers runbook `{runbook}`, so it is refused")
            }
            TrustError::Unsigned {
                runbook,
                rule,
                required,
            } => format!(
                "runbook `{runbook}` is not signed, and the trust policy's rule `{rule}` \
                 requires signatures by {required}"
            ),
            TrustError::Missing {
                runbook,
                rule,
                missing,
                found,
                ..
            } => format!(
                "runbook `{runbook}` lacks signatures the trust policy's rule `{rule}` \
                 requires: {missing}; {found}"
            ),
            TrustError::Broken { runbook, error } => {
                format!("runbook `{runbook}` is refused: {error}")
            }
            TrustError::NoManifest { runbook, rule } => format!(
                "runbook `{runbook}` has no capability manifest, and the trust policy's rule \
                 `{rule}` requires one"
            ),
            TrustError::Manifest { runbook, error } => {
                format!("runbook `{runbook}` is refused: {error}")
            }
            TrustError::NoLongerTrusted { .. } => self.to_string(),
        }
    }
}

impl TrustPolicy {
    /// A policy, checked: rules require known organisations and at least one
    /// signer, name runbooks, and have distinct names; no key is in two
    /// organisations.
    pub fn new(organisations: Vec<Organisation>, rules: Vec<Rule>) -> Result<Self, PolicyError> {
        let mut owner: BTreeMap<String, &str> = BTreeMap::new();
        for org in &organisations {
            for key in &org.keys {
                let fingerprint = key.key.fingerprint();
                if let Some(first) = owner.get(&fingerprint).filter(|first| **first != org.name) {
                    return Err(PolicyError::SharedKey {
                        fingerprint,
                        first: first.to_string(),
                        second: org.name.clone(),
                    });
                }
                owner.insert(fingerprint, &org.name);
            }
        }
        for (i, rule) in rules.iter().enumerate() {
            let name = || rule.name.clone();
            if rules[..i].iter().any(|r| r.name == rule.name) {
                return Err(PolicyError::DuplicateRule { rule: name() });
            }
            if rule.runbooks.is_empty() {
                return Err(PolicyError::NoRunbooks { rule: name() });
            }
            if rule.require.is_empty() {
                return Err(PolicyError::NothingRequired { rule: name() });
            }
            if let Some(unknown) = rule
                .require
                .iter()
                .find(|r| !organisations.iter().any(|o| &o.name == *r))
            {
                return Err(PolicyError::UnknownOrganisation {
                    rule: name(),
                    organisation: unknown.clone(),
                });
            }
        }
        Ok(TrustPolicy {
            organisations,
            rules,
        })
    }

    /// Its organisations and their keys.
    pub fn organisations(&self) -> &[Organisation] {
        &self.organisations
    }

    /// The rule that decides for `runbook` (a file name; `.wasm` aside).
    pub fn rule_for(&self, runbook: &str) -> Option<&Rule> {
        let name = bare(runbook);
        self.rules
            .iter()
            .find(|rule| rule.runbooks.iter().any(|p| glob(bare(p), name)))
    }

    /// Whether `module` (the bytes of runbook `runbook`, from `source`) is
    /// signed as its rule requires at `now`: its admission, or why not.
    pub fn check(
        &self,
        runbook: &str,
        source: &str,
        module: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Admission, TrustError> {
        let rule = self.rule_for(runbook).ok_or_else(|| TrustError::NoRule {
            runbook: runbook.to_string(),
        })?;
        // Every key the policy holds, expired ones too: a signature by an
        // expired key is named as such, not as a stranger's.
        let held: Vec<(&Organisation, &TrustedKey)> = self
            .organisations
            .iter()
            .flat_map(|org| org.keys.iter().map(move |key| (org, key)))
            .collect();
        let keys: Vec<PublicKey> = held.iter().map(|(_, k)| k.key.clone()).collect();
        let broken = |error| TrustError::Broken {
            runbook: runbook.to_string(),
            error,
        };
        // One parse for the signatures and the manifest they cover.
        let layout = Layout::of(module).map_err(broken)?;
        let (signed, others, digest) = match verify_layout(&layout, &keys) {
            Ok(verified) => (
                verified.signers,
                verified.other_signatures,
                Some(verified.digest),
            ),
            Err(SignatureError::Unsigned) => {
                return Err(TrustError::Unsigned {
                    runbook: runbook.to_string(),
                    rule: rule.name.clone(),
                    required: required(&rule.require),
                })
            }
            Err(SignatureError::UnknownSigners { signatures, .. }) => {
                (Vec::new(), signatures, None)
            }
            Err(error) => return Err(broken(error)),
        };
        let mut signers = Vec::new();
        let mut expired = Vec::new();
        for key in &signed {
            let (org, trusted) = held
                .iter()
                .find(|(_, k)| &k.key == key)
                .expect("verify names only the keys it was given");
            let signer = Signer {
                organisation: org.name.clone(),
                fingerprint: key.fingerprint(),
            };
            match trusted.expires {
                Some(at) if at <= now => expired.push((signer, at)),
                _ => signers.push(signer),
            }
        }
        // Each organisation's count of valid signers against the rule's.
        let mut missing = Vec::new();
        for org in dedup(&rule.require) {
            let needed = rule.require.iter().filter(|r| *r == org).count();
            let have = signers.iter().filter(|s| &s.organisation == org).count();
            if have < needed {
                missing.push(match needed - have {
                    1 => format!("one key of `{org}`"),
                    n => format!("{n} more keys of `{org}`"),
                });
            }
        }
        if missing.is_empty() {
            let manifest = manifest_of(runbook, &layout)?;
            if manifest.is_none() && rule.require_manifest {
                return Err(TrustError::NoManifest {
                    runbook: runbook.to_string(),
                    rule: rule.name.clone(),
                });
            }
            return Ok(Admission {
                // Hashed once, by the verification (a second pass over a
                // 1 MiB module cost 0.5 ms).
                digest: digest.unwrap_or_else(|| drbook_core::module::digest(module)),
                source: source.to_string(),
                signers,
                admitted_by: AdmittedBy::Rule {
                    rule: rule.name.clone(),
                },
                capabilities: Capabilities {
                    manifest,
                    signed: true,
                    caps: rule.cap().into_iter().collect(),
                },
                replaces: None,
            });
        }
        let mut found = vec![if signers.is_empty() {
            "no key it trusts signed it".to_string()
        } else {
            format!("it is signed by {}", list(&signers))
        }];
        for (signer, at) in &expired {
            found.push(format!(
                "the signature by {} of `{}` does not count: that key expired {}",
                signer.fingerprint,
                signer.organisation,
                at.format("%Y-%m-%d %H:%M UTC")
            ));
        }
        if others > 0 {
            found.push(format!(
                "{others} signature(s) by keys the policy does not hold (an unknown or removed \
                 key; `drbook runbook verify FILE --key KEY.pub` tells whose)"
            ));
        }
        Err(TrustError::Missing {
            runbook: runbook.to_string(),
            rule: rule.name.clone(),
            missing: missing.join(" and "),
            found: found.join("; "),
            signers,
        })
    }
}

/// The host's trust: a policy, or none. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    policy: Option<Arc<TrustPolicy>>,
}

impl Trust {
    /// No policy: every module is admitted, unchecked, and recorded so.
    pub fn none() -> Self {
        Trust::default()
    }

    /// The policy enforced, if any.
    pub fn policy(&self) -> Option<&TrustPolicy> {
        self.policy.as_deref()
    }

    pub fn enforce(policy: TrustPolicy) -> Self {
        Trust {
            policy: Some(Arc::new(policy)),
        }
    }

    /// The admission of a module into a new job, before anything compiles
    /// it. `allow_unsigned` (development) admits what the policy refuses,
    /// recording the refusal, but never a module altered after signing.
    pub fn admit(
        &self,
        runbook: &str,
        source: &str,
        module: &[u8],
        allow_unsigned: bool,
    ) -> Result<Admission, TrustError> {
        let Some(policy) = &self.policy else {
            return Ok(Admission {
                digest: drbook_core::module::digest(module),
                source: source.to_string(),
                signers: Vec::new(),
                admitted_by: AdmittedBy::NoPolicy,
                capabilities: unsigned_capabilities(runbook, module, None)?,
                replaces: None,
            });
        };
        match policy.check(runbook, source, module, Utc::now()) {
            Ok(admission) => Ok(admission),
            Err(refusal @ (TrustError::Broken { .. } | TrustError::Manifest { .. })) => {
                Err(refusal)
            }
            Err(refusal) if allow_unsigned => Ok(Admission {
                digest: drbook_core::module::digest(module),
                source: source.to_string(),
                signers: match &refusal {
                    TrustError::Missing { signers, .. } => signers.clone(),
                    _ => Vec::new(),
                },
                admitted_by: AdmittedBy::AllowUnsigned {
                    refusal: refusal.to_string(),
                },
                capabilities: unsigned_capabilities(
                    runbook,
                    module,
                    policy.rule_for(runbook).and_then(Rule::cap),
                )?,
                replaces: None,
            }),
            Err(refusal) => Err(refusal),
        }
    }

    /// Narrows what a job's module may do to what the policy as it is now
    /// caps the module at, at each run: a resumed job whose policy changed
    /// is held to the narrower of then and now, never to more than it was
    /// admitted with. A lookup of the runbook's rule, no parse.
    pub fn narrow(&self, runbook: &str, capabilities: &mut Capabilities) {
        if let Some(cap) = self
            .policy
            .as_ref()
            .and_then(|policy| policy.rule_for(runbook))
            .and_then(Rule::cap)
        {
            capabilities.narrow(cap);
        }
    }

    /// Checks a job's pinned module again, under the policy as it is now:
    /// what a job resumed after the policy changed goes through before its
    /// module is compiled. A job admitted with `--allow-unsigned` keeps that
    /// allowance (it is on its record), except for a module altered since.
    pub fn recheck(
        &self,
        runbook: &str,
        module: &[u8],
        pinned: Option<&Admission>,
    ) -> Result<(), TrustError> {
        let Some(policy) = &self.policy else {
            return Ok(());
        };
        let source = pinned.map_or(runbook, |a| a.source.as_str());
        let now = match policy.check(runbook, source, module, Utc::now()) {
            Ok(_) => return Ok(()),
            Err(broken @ (TrustError::Broken { .. } | TrustError::Manifest { .. })) => broken,
            Err(_)
                if pinned
                    .is_some_and(|a| matches!(a.admitted_by, AdmittedBy::AllowUnsigned { .. })) =>
            {
                return Ok(())
            }
            Err(refusal) => refusal,
        };
        let still: &[Signer] = match &now {
            TrustError::Missing { signers, .. } => signers,
            _ => &[],
        };
        let dropped: Vec<Signer> = pinned
            .map(|a| a.signers.as_slice())
            .unwrap_or_default()
            .iter()
            .filter(|s| !still.contains(s))
            .cloned()
            .collect();
        Err(TrustError::NoLongerTrusted {
            was: pinned.map_or_else(|| "before admissions were recorded".to_string(), describe),
            dropped: if dropped.is_empty() {
                String::new()
            } else {
                format!(
                    "; what changed: {} signed it then, and the policy no longer counts \
                     that key (removed or expired)",
                    list(&dropped)
                )
            },
            now: Box::new(now),
        })
    }
}

/// The manifest of a module parsed already, its imports checked against it.
fn manifest_of(runbook: &str, layout: &Layout) -> Result<Option<Manifest>, TrustError> {
    manifest::of_layout(layout).map_err(|error| TrustError::Manifest {
        runbook: runbook.to_string(),
        error,
    })
}

/// What a module no signature vouches for may do: its manifest still
/// narrows (recorded as unsigned), under the rule's cap if one applies. A
/// file that is no module at all has no manifest here: loading it says
/// what it is.
fn unsigned_capabilities(
    runbook: &str,
    module: &[u8],
    cap: Option<PolicyCap>,
) -> Result<Capabilities, TrustError> {
    let manifest = match Layout::of(module) {
        Ok(layout) => manifest_of(runbook, &layout)?,
        Err(_) => None,
    };
    Ok(Capabilities {
        manifest,
        signed: false,
        caps: cap.into_iter().collect(),
    })
}

/// How an admission reads in a message: `by rule `shared` (signed by ...)`.
fn describe(admission: &Admission) -> String {
    match &admission.admitted_by {
        AdmittedBy::NoPolicy => "with no trust policy configured".to_string(),
        AdmittedBy::AllowUnsigned { .. } => "with --allow-unsigned".to_string(),
        AdmittedBy::Rule { rule } if admission.signers.is_empty() => format!("by rule `{rule}`"),
        AdmittedBy::Rule { rule } => {
            format!("by rule `{rule}` (signed by {})", list(&admission.signers))
        }
    }
}

fn list(signers: &[Signer]) -> String {
    signers
        .iter()
        .map(|s| format!("{} of `{}`", s.fingerprint, s.organisation))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `one key each of `a` and `b``, as a rule's requirement reads.
fn required(require: &[String]) -> String {
    let orgs = dedup(require);
    let each = orgs
        .iter()
        .map(|org| match require.iter().filter(|r| r == org).count() {
            1 => format!("one key of `{org}`"),
            n => format!("{n} keys of `{org}`"),
        })
        .collect::<Vec<_>>();
    each.join(" and ")
}

/// Each name once, in the order first given.
fn dedup(names: &[String]) -> Vec<&String> {
    let mut seen = Vec::new();
    for name in names {
        if !seen.contains(&name) {
            seen.push(name);
        }
    }
    seen
}

/// A runbook's name without its `.wasm`, which rules leave out.
fn bare(name: &str) -> &str {
    name.strip_suffix(".wasm").unwrap_or(name)
}

/// Whether `text` matches `pattern`: `*` any run of characters, `?` one.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    // Where the last `*` was, and the text position it was tried at.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(c) if *c == '?' || *c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                // Let the last `*` take one character more.
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests;
