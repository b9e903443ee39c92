//! `drbook runbook inspect`: what a runbook file is and may do, before
//! anyone runs it: its digest and size; its signatures (key ids, whether
//! each covers the module as it is, and which organisation's key of the
//! configured trust policy it is, if any); its capability manifest and
//! whether the signatures cover it; what the policy would decide; its
//! WIT imports and exports, checked against this host by linking it.

use std::path::Path;

use super::read_module;
use crate::cli::{Global, InputError, Outcome};
use drbook_signing::{manifest, Trust};

pub fn run(global: &Global, file: &Path) -> anyhow::Result<Outcome> {
    let bytes = read_module(file)?;
    let runtime = global.runtime(false)?;
    let runbook = runtime
        .load_bytes(&bytes, &file.display().to_string())
        .map_err(|e| InputError::new(e.to_string()))?;
    let (imports, exports) = runtime.describe(&runbook);
    let trust = crate::cli::execute::trust(global)?;
    let signatures = signatures(&bytes, &trust)?;
    let signed = signatures.iter().any(|s| s["covers"] == true);
    let manifest = match manifest::read(&bytes) {
        Ok(Some(manifest)) => serde_json::json!({
            "interfaces": manifest.interfaces,
            "operations": manifest.operations.iter().map(|k| k.cli_name()).collect::<Vec<_>>(),
            "http": manifest.http,
            "covered_by_signatures": signed,
        }),
        Ok(None) => serde_json::Value::Null,
        Err(e) => serde_json::json!({ "error": e.to_string() }),
    };
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let policy = match (trust.policy(), trust.admit(&name, &name, &bytes, false)) {
        (None, _) => serde_json::json!({ "configured": false }),
        (Some(_), Ok(admission)) => serde_json::json!({
            "configured": true,
            "admitted": true,
            "admitted_by": admission.admitted_by,
            "caps": admission.capabilities.caps,
        }),
        (Some(_), Err(refusal)) => serde_json::json!({
            "configured": true,
            "admitted": false,
            "refusal": refusal.problem(),
        }),
    };
    let doc = serde_json::json!({
        "file": file.display().to_string(),
        "world": "drbook:runbook/runbook@0.1.0",
        "digest": runbook.digest,
        "size": runbook.size,
        "signatures": signatures,
        "manifest": manifest,
        "policy": policy,
        "imports": imports,
        "exports": exports,
    });
    if global.json {
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print_text(&doc);
    }
    Ok(Outcome::Success)
}

/// Each signature, with the policy's key it is by, if the policy holds it.
fn signatures(bytes: &[u8], trust: &Trust) -> anyhow::Result<Vec<serde_json::Value>> {
    let found = drbook_signing::signatures(bytes).map_err(|e| InputError::new(e.to_string()))?;
    let held: Vec<(&str, &drbook_signing::PublicKey)> = trust
        .policy()
        .map(|policy| {
            policy
                .organisations()
                .iter()
                .flat_map(|org| org.keys.iter().map(move |k| (org.name.as_str(), &k.key)))
                .collect()
        })
        .unwrap_or_default();
    let keys: Vec<_> = held.iter().map(|(_, key)| (*key).clone()).collect();
    let verified = drbook_signing::verify(bytes, &keys)
        .map(|v| v.signers)
        .unwrap_or_default();
    Ok(found
        .into_iter()
        .map(|signature| {
            let by = held.iter().find(|(_, key)| signature.names(key));
            serde_json::json!({
                "key_id": signature.key_id,
                "covers": signature.covers,
                "known_scheme": signature.known_scheme,
                "organisation": by.map(|(org, _)| org),
                "fingerprint": by.map(|(_, key)| key.fingerprint()),
                "verified": by.is_some_and(|(_, key)| verified.contains(key)),
            })
        })
        .collect())
}

fn print_text(doc: &serde_json::Value) {
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let list = |v: &serde_json::Value| {
        let names: Vec<String> = v.as_array().into_iter().flatten().map(text).collect();
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    };
    println!("file:       {}", text(&doc["file"]));
    println!("world:      drbook:runbook/runbook@0.1.0 (checked: it links against this host)");
    println!("digest:     {}", text(&doc["digest"]));
    println!("size:       {} bytes", doc["size"]);
    let signatures = doc["signatures"].as_array().cloned().unwrap_or_default();
    if signatures.is_empty() {
        println!("signatures: none (unsigned)");
    } else {
        println!("signatures:");
    }
    for s in &signatures {
        let by = match (s["organisation"].as_str(), s["verified"] == true) {
            (Some(org), true) => format!("{} of `{org}` (verified)", text(&s["fingerprint"])),
            (Some(org), false) => {
                format!("{} of `{org}` (does not verify)", text(&s["fingerprint"]))
            }
            (None, _) => "a key the trust policy does not hold".to_string(),
        };
        let covers = if s["covers"] == true {
            "covers the module"
        } else {
            "does NOT cover the module as it is (changed after signing)"
        };
        println!("  key id {}: {by}; {covers}", text(&s["key_id"]));
    }
    let manifest = &doc["manifest"];
    if manifest.is_null() {
        println!("manifest:   none (its jobs' scope alone applies)");
    } else if let Some(error) = manifest["error"].as_str() {
        println!("manifest:   refused: {error}");
    } else {
        let covered = if manifest["covered_by_signatures"] == true {
            "covered by its signatures"
        } else {
            "NOT covered by any signature: unsigned"
        };
        println!("manifest:   {covered}");
        println!("  interfaces: {}", list(&manifest["interfaces"]));
        println!("  operations: {}", list(&manifest["operations"]));
        println!("  http:       {}", list(&manifest["http"]));
    }
    let policy = &doc["policy"];
    if policy["configured"] != true {
        println!("policy:     none configured (modules run unchecked)");
    } else if policy["admitted"] == true {
        let rule = text(&policy["admitted_by"]["rule"]);
        println!("policy:     admitted by rule `{rule}`");
        for cap in policy["caps"].as_array().into_iter().flatten() {
            println!("  capped at: {}", list(&cap["operations"]));
            if cap["http"].is_array() {
                println!("  http capped at: {}", list(&cap["http"]));
            }
        }
    } else {
        println!("policy:     refused: {}", text(&policy["refusal"]));
    }
    for (title, key) in [("imports:", "imports"), ("exports:", "exports")] {
        println!("{title}");
        for name in doc[key].as_array().into_iter().flatten() {
            println!("  {}", text(name));
        }
    }
}
