//! The CNCF Wasm OCI artifact layout (the TAG Runtime's "Wasm OCI Artifact"
//! specification, which wkg, wash and oras push and pull): an image manifest
//! whose config is `application/vnd.wasm.config.v0+json` and whose one layer
//! is the component itself, `application/wasm`. The module's signatures are
//! inside its bytes (custom sections), so they travel with the layer as is.

use serde::{Deserialize, Serialize};

use crate::OciError;

pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
pub const LAYER_MEDIA_TYPE: &str = "application/wasm";

/// The config blob, as the specification lays it out.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WasmConfig {
    pub created: chrono::DateTime<chrono::Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// Always `wasm`.
    pub architecture: String,
    /// `wasip2` for a component.
    pub os: String,
    /// The layers' digests, in the manifest's order: they make the config,
    /// and so its digest, unique to the module.
    pub layer_digests: Vec<String>,
    /// The component's top-level imports and exports, required for `wasip2`.
    pub component: ComponentInfo,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ComponentInfo {
    pub exports: Vec<String>,
    pub imports: Vec<String>,
}

/// A descriptor of a blob in a manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: i64,
}

/// The image manifest, as pushed and as read back.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: u32,
    #[serde(default)]
    pub media_type: Option<String>,
    #[serde(default)]
    pub artifact_type: Option<String>,
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
}

/// What is pushed for `module`: the config's bytes and the manifest's.
pub fn pack(module: &[u8], author: Option<String>) -> Result<(Vec<u8>, Vec<u8>), String> {
    let layer_digest = drbook_core::module::digest(module);
    let config = WasmConfig {
        created: chrono::Utc::now(),
        author,
        architecture: "wasm".into(),
        os: "wasip2".into(),
        layer_digests: vec![layer_digest.clone()],
        component: describe(module)?,
    };
    let config = serde_json::to_vec(&config).expect("a config serialises");
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(MANIFEST_MEDIA_TYPE.into()),
        artifact_type: None,
        config: Descriptor {
            media_type: CONFIG_MEDIA_TYPE.into(),
            digest: drbook_core::module::digest(&config),
            size: config.len() as i64,
        },
        layers: vec![Descriptor {
            media_type: LAYER_MEDIA_TYPE.into(),
            digest: layer_digest,
            size: module.len() as i64,
        }],
    };
    let manifest = serde_json::to_vec(&manifest).expect("a manifest serialises");
    Ok((config, manifest))
}

/// The one `application/wasm` layer of the manifest `body`, or why it is
/// not a runbook's.
pub fn module_layer(reference: &str, body: &[u8]) -> Result<Descriptor, OciError> {
    let not = |problem: String| OciError::NotAModule {
        reference: reference.to_string(),
        problem,
    };
    let manifest: Manifest = serde_json::from_slice(body)
        .map_err(|e| not(format!("its manifest is not an OCI image manifest ({e})")))?;
    if let Some(kind) = manifest.media_type.as_deref() {
        if kind != MANIFEST_MEDIA_TYPE {
            return Err(not(format!(
                "its manifest is `{kind}`, not an image manifest ({MANIFEST_MEDIA_TYPE})"
            )));
        }
    }
    let [layer] = manifest.layers.as_slice() else {
        return Err(not(format!(
            "its manifest has {} layers, and a runbook has exactly one",
            manifest.layers.len()
        )));
    };
    if layer.media_type != LAYER_MEDIA_TYPE {
        return Err(not(format!(
            "its layer is `{}`, not `{LAYER_MEDIA_TYPE}`",
            layer.media_type
        )));
    }
    if !layer.digest.starts_with("sha256:") {
        return Err(not(format!(
            "its layer's digest `{}` is not sha256, which jobs are pinned to",
            layer.digest
        )));
    }
    Ok(layer.clone())
}

/// The top-level imports and exports of component `bytes`, read without
/// compiling it; an error if it is not a component.
fn describe(bytes: &[u8]) -> Result<ComponentInfo, String> {
    use wasmparser::{Encoding, Parser, Payload};
    let mut info = ComponentInfo {
        exports: Vec::new(),
        imports: Vec::new(),
    };
    // Nested modules and components have their own sections: only depth 0
    // is the component's interface.
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| format!("it is not WebAssembly: {e}"))?;
        match payload {
            Payload::Version { encoding, .. } if depth == 0 && encoding != Encoding::Component => {
                return Err(
                    "it is a core WebAssembly module, not a component (build it for \
                            wasm32-wasip2 with drbook-sdk)"
                        .into(),
                );
            }
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(imports) if depth == 0 => {
                for import in imports {
                    let import = import.map_err(|e| e.to_string())?;
                    info.imports.push(import.name.name.to_string());
                }
            }
            Payload::ComponentExportSection(exports) if depth == 0 => {
                for export in exports {
                    let export = export.map_err(|e| e.to_string())?;
                    info.exports.push(export.name.name.to_string());
                }
            }
            _ => {}
        }
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_with_two_layers_or_another_layer_type_is_no_runbook() {
        let layer = |kind: &str| Descriptor {
            media_type: kind.into(),
            digest: drbook_core::module::digest(b"x"),
            size: 1,
        };
        let manifest = |layers: Vec<Descriptor>| {
            serde_json::to_vec(&Manifest {
                schema_version: 2,
                media_type: Some(MANIFEST_MEDIA_TYPE.into()),
                artifact_type: None,
                config: layer(CONFIG_MEDIA_TYPE),
                layers,
            })
            .unwrap()
        };
        let one = manifest(vec![layer(LAYER_MEDIA_TYPE)]);
        assert_eq!(
            module_layer("r", &one).unwrap().media_type,
            LAYER_MEDIA_TYPE
        );
        let two = manifest(vec![layer(LAYER_MEDIA_TYPE), layer(LAYER_MEDIA_TYPE)]);
        let err = module_layer("r", &two).unwrap_err().to_string();
        assert!(err.contains("2 layers"), "{err}");
        let tar = manifest(vec![layer("application/vnd.oci.image.layer.v1.tar+gzip")]);
        let err = module_layer("r", &tar).unwrap_err().to_string();
        assert!(err.contains("not `application/wasm`"), "{err}");
        let err = module_layer("r", b"[]").unwrap_err().to_string();
        assert!(err.contains("not an OCI image manifest"), "{err}");
    }

    #[test]
    fn a_core_module_is_not_packed() {
        let core = b"\0asm\x01\0\0\0";
        assert!(pack(core, None).unwrap_err().contains("not a component"));
    }
}
