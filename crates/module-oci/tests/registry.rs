//! drbook-module-oci against a real registry (Debian's `docker-registry`,
//! started by `DevRegistry` on 127.0.0.1): push and pull by tag and by
//! digest, the local store answering without the registry, a moved tag, the
//! CNCF artifact's media types as the registry serves them, and each bad
//! input refused with its fix, nothing stored.

use drbook_module_oci::dev::DevRegistry;
use drbook_module_oci::{Lookup, OciError, Reference, Registry, Settings};

/// A WebAssembly component (the empty one) with a custom section holding
/// `payload`: different bytes, still a component.
fn component(payload: &[u8]) -> Vec<u8> {
    let mut bytes = b"\0asm\x0d\0\x01\0".to_vec();
    let name = b"drbook-test";
    bytes.push(0);
    bytes.push((1 + name.len() + payload.len()) as u8);
    bytes.push(name.len() as u8);
    bytes.extend_from_slice(name);
    bytes.extend_from_slice(payload);
    bytes
}

/// A registry client on its own data dir, with no credentials.
fn client() -> (tempfile::TempDir, Registry) {
    client_with(Lookup::default())
}

fn client_with(credentials: Lookup) -> (tempfile::TempDir, Registry) {
    let dir = tempfile::tempdir().unwrap();
    let registry = client_in(dir.path(), credentials, false);
    (dir, registry)
}

/// A registry client on `data_dir`, offline or not.
fn client_in(data_dir: &std::path::Path, credentials: Lookup, offline: bool) -> Registry {
    Registry::new(Settings {
        credentials,
        ca_file: None,
        offline,
        ..Settings::new(data_dir.to_path_buf())
    })
}

fn reference(text: &str) -> Reference {
    text.parse().unwrap()
}

#[tokio::test]
async fn a_module_pushed_is_pulled_by_tag_and_by_digest_byte_for_byte() {
    let registry = DevRegistry::start();
    let module = component(b"v1");
    let (_dir, pusher) = client();
    let tagged = reference(&registry.reference("dr/failover_plan:v1"));
    let pushed = pusher.push(&module, &tagged).await.unwrap();
    assert_eq!(pushed.module_digest, drbook_core::module::digest(&module));
    assert_eq!(pushed.reference.tag.as_deref(), Some("v1"));
    let manifest_digest = pushed.reference.digest.clone().unwrap();

    let (_dir, by_tag) = client();
    let pulled = by_tag.pull(&tagged).await.unwrap();
    assert_eq!(pulled.bytes, module);
    assert_eq!(pulled.digest, pushed.module_digest);
    assert_eq!(pulled.origin, pushed.reference.to_string());
    assert_eq!(pulled.name, "failover_plan");

    let by_digest = reference(&registry.reference(&format!("dr/failover_plan@{manifest_digest}")));
    let (_dir, fresh) = client();
    let pulled = fresh.pull(&by_digest).await.unwrap();
    assert_eq!(pulled.bytes, module);
    assert_eq!(pulled.digest, pushed.module_digest);
    assert_eq!(pulled.origin, by_digest.to_string());
}

#[tokio::test]
async fn a_digest_in_the_local_store_asks_no_registry_and_a_tag_asks_for_its_manifest_only() {
    let mut registry = DevRegistry::start();
    let module = component(b"stored");
    let (_dir, pusher) = client();
    let tagged = reference(&registry.reference("dr/stored:v1"));
    let pushed = pusher.push(&module, &tagged).await.unwrap();
    let (dir, puller) = client();
    let first = puller.pull(&pushed.reference).await.unwrap();
    let asked = registry.requests();
    assert!(
        asked.iter().any(|r| r.contains("/blobs/")),
        "the first pull fetches the blob: {asked:?}"
    );
    assert!(dir.path().join("modules/sha256").is_dir());

    let again = puller.pull(&pushed.reference).await.unwrap();
    assert_eq!(again, first);
    assert_eq!(
        registry.requests(),
        asked,
        "a digest in the store asks nothing"
    );

    // By tag: the manifest is asked for (tags move), the blob is not.
    let by_tag = puller.pull(&tagged).await.unwrap();
    assert_eq!(by_tag, first);
    let new: Vec<String> = registry.requests()[asked.len()..].to_vec();
    assert_eq!(
        new.iter().filter(|r| r.contains("/manifests/v1 ")).count(),
        1,
        "{new:?}"
    );
    assert!(!new.iter().any(|r| r.contains("/blobs/")), "{new:?}");

    // And with the registry gone, the digest still comes from the store.
    registry.stop();
    assert_eq!(puller.pull(&pushed.reference).await.unwrap(), first);
}

#[tokio::test]
async fn a_moved_tag_gives_the_new_module_and_the_old_digest_still_the_old_one() {
    let registry = DevRegistry::start();
    let (_dir, pusher) = client();
    let tagged = reference(&registry.reference("dr/moving:stable"));
    let old = pusher.push(&component(b"old"), &tagged).await.unwrap();
    let new = pusher.push(&component(b"new"), &tagged).await.unwrap();
    assert_ne!(old.reference.digest, new.reference.digest);
    let (_dir, puller) = client();
    let now = puller.pull(&tagged).await.unwrap();
    assert_eq!(now.bytes, component(b"new"));
    assert_eq!(now.origin, new.reference.to_string());
    let pinned = puller.pull(&old.reference).await.unwrap();
    assert_eq!(pinned.bytes, component(b"old"));
}

#[tokio::test]
async fn the_artifact_has_the_cncf_wasm_media_types_on_the_wire() {
    let registry = DevRegistry::start();
    let (_dir, pusher) = client();
    let module = component(b"interop");
    pusher
        .push(&module, &reference(&registry.reference("dr/interop:v1")))
        .await
        .unwrap();
    let base = format!("http://{}/v2/dr/interop", registry.address());
    // The registry's own answer, over plain HTTP, not drbook's reading of it.
    let get = |path: String| raw_get(format!("{base}/{path}"));
    let json = |bytes: Vec<u8>| -> serde_json::Value { serde_json::from_slice(&bytes).unwrap() };
    let manifest = json(get("manifests/v1".into()).await);
    assert_eq!(manifest["schemaVersion"], 2);
    assert_eq!(
        manifest["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.wasm.config.v0+json"
    );
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    assert_eq!(layers[0]["mediaType"], "application/wasm");
    assert_eq!(layers[0]["digest"], drbook_core::module::digest(&module));
    assert_eq!(layers[0]["size"], module.len());
    let config_digest = manifest["config"]["digest"].as_str().unwrap();
    let config = json(get(format!("blobs/{config_digest}")).await);
    assert_eq!(config["architecture"], "wasm");
    assert_eq!(config["os"], "wasip2");
    assert_eq!(
        config["layerDigests"],
        serde_json::json!([drbook_core::module::digest(&module)])
    );
    assert!(config["created"].is_string(), "{config}");
    assert!(config["component"]["imports"].is_array(), "{config}");
    assert!(config["component"]["exports"].is_array(), "{config}");
    let layer = get(format!("blobs/{}", layers[0]["digest"].as_str().unwrap())).await;
    assert_eq!(layer, module, "the layer is the module as is");
}

/// The body of `url`, which must answer 2xx.
async fn raw_get(url: String) -> Vec<u8> {
    let answer = reqwest::Client::new()
        .get(&url)
        .header("Accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .unwrap();
    assert!(
        answer.status().is_success(),
        "GET {url}: {}",
        answer.status()
    );
    answer.bytes().await.unwrap().to_vec()
}

/// `err`'s message has each of `parts`.
fn says(err: OciError, parts: &[&str]) {
    let text = err.to_string();
    for part in parts {
        assert!(text.contains(part), "`{part}` not in: {text}");
    }
}

fn store_is_empty(dir: &tempfile::TempDir) {
    let blobs = dir.path().join("modules/sha256");
    let count = std::fs::read_dir(&blobs).map_or(0, |d| d.count());
    assert_eq!(count, 0, "nothing is stored in {}", blobs.display());
}

#[tokio::test]
async fn a_registry_that_is_down_is_named_with_the_fix() {
    let mut registry = DevRegistry::start();
    let tagged = reference(&registry.reference("dr/x:v1"));
    registry.stop();
    let (dir, puller) = client();
    says(
        puller.pull(&tagged).await.unwrap_err(),
        &["cannot be reached", "onnection refused", "start it"],
    );
    store_is_empty(&dir);
}

#[tokio::test]
async fn a_tag_that_does_not_exist_is_named_with_the_fix() {
    let registry = DevRegistry::start();
    let (_dir, pusher) = client();
    pusher
        .push(&component(b"x"), &reference(&registry.reference("dr/x:v1")))
        .await
        .unwrap();
    let (dir, puller) = client();
    let missing = registry.reference("dr/x:v2");
    says(
        puller.pull(&reference(&missing)).await.unwrap_err(),
        &["does not exist", &missing, "drbook runbook push FILE"],
    );
    says(
        puller
            .pull(&reference(&registry.reference("dr/never:v1")))
            .await
            .unwrap_err(),
        &["does not exist"],
    );
    store_is_empty(&dir);
}

#[tokio::test]
async fn a_blob_changed_in_the_registry_is_refused_and_not_stored() {
    let registry = DevRegistry::start();
    let module = component(b"tamper me");
    let (_dir, pusher) = client();
    let pushed = pusher
        .push(&module, &reference(&registry.reference("dr/tampered:v1")))
        .await
        .unwrap();
    let file = registry.blob_file(&pushed.module_digest);
    let mut bytes = std::fs::read(&file).unwrap();
    assert_eq!(bytes, module);
    *bytes.last_mut().unwrap() ^= 0xff;
    std::fs::write(&file, bytes).unwrap();
    let (dir, puller) = client();
    says(
        puller.pull(&pushed.reference).await.unwrap_err(),
        &[
            "does not hash to its digest",
            &pushed.module_digest,
            "push the runbook again",
        ],
    );
    store_is_empty(&dir);
}

#[tokio::test]
async fn a_manifest_that_is_not_a_runbook_s_is_refused_and_not_stored() {
    use oci_client::client::{Config, ImageLayer};
    let registry = DevRegistry::start();
    let client = oci_client::Client::new(oci_client::client::ClientConfig {
        protocol: oci_client::client::ClientProtocol::Http,
        ..Default::default()
    });
    let auth = oci_client::secrets::RegistryAuth::Anonymous;
    let config = || {
        Config::new(
            b"{}".to_vec(),
            "application/vnd.wasm.config.v0+json".into(),
            None,
        )
    };
    let wasm =
        |payload: &[u8]| ImageLayer::new(component(payload), "application/wasm".into(), None);
    for (tag, layers, problem) in [
        ("two", vec![wasm(b"a"), wasm(b"b")], "2 layers"),
        (
            "tar",
            vec![ImageLayer::new(
                b"tar".to_vec(),
                "application/vnd.oci.image.layer.v1.tar".into(),
                None,
            )],
            "not `application/wasm`",
        ),
    ] {
        let target: oci_client::Reference = format!("{}/dr/odd:{tag}", registry.address())
            .parse()
            .unwrap();
        client
            .push(&target, &layers, config(), &auth, None)
            .await
            .unwrap();
        let (dir, puller) = client_with(Lookup::default());
        says(
            puller
                .pull(&reference(&registry.reference(&format!("dr/odd:{tag}"))))
                .await
                .unwrap_err(),
            &["is not a runbook module", problem, "application/wasm"],
        );
        store_is_empty(&dir);
    }
}

#[tokio::test]
async fn a_registry_with_users_wants_the_right_credentials() {
    let registry = DevRegistry::with_users(&[("alice", "s3cret")]);
    let tagged = reference(&registry.reference("dr/private:v1"));
    let as_user = |password: &str| Lookup {
        env_user: Some("alice".into()),
        env_password: Some(password.into()),
        docker_config: None,
    };
    let (_dir, anonymous) = client();
    says(
        anonymous.push(&component(b"p"), &tagged).await.unwrap_err(),
        &[
            "wants credentials (401",
            "DRBOOK_REGISTRY_USERNAME",
            "docker login",
        ],
    );
    let (dir, wrong) = client_with(as_user("wrong"));
    let err = wrong.pull(&tagged).await.unwrap_err();
    assert!(
        !err.to_string().contains("wrong"),
        "no credential in: {err}"
    );
    says(
        err,
        &[
            "refused the credentials from DRBOOK_REGISTRY_USERNAME",
            "401",
        ],
    );
    store_is_empty(&dir);

    let (_dir, right) = client_with(as_user("s3cret"));
    let pushed = right.push(&component(b"p"), &tagged).await.unwrap();
    let (_dir, right) = client_with(as_user("s3cret"));
    assert_eq!(
        right.pull(&tagged).await.unwrap().digest,
        pushed.module_digest
    );
}

#[tokio::test]
async fn offline_a_tag_resolves_to_what_it_last_resolved_to_here_and_nothing_else_is_asked() {
    let mut registry = DevRegistry::start();
    let tagged = reference(&registry.reference("dr/offline:v1"));
    let (_dir, pusher) = client();
    pusher.push(&component(b"offline"), &tagged).await.unwrap();
    let (dir, online) = client();
    let pulled = online.pull(&tagged).await.unwrap();
    let asked = registry.requests();
    let offline = client_in(dir.path(), Lookup::default(), true);
    assert_eq!(offline.pull(&tagged).await.unwrap(), pulled);
    assert_eq!(registry.requests(), asked, "offline asks nothing");
    registry.stop();
    assert_eq!(offline.pull(&tagged).await.unwrap(), pulled);
    let unknown = reference(&registry.reference("dr/offline:v2"));
    says(
        offline.pull(&unknown).await.unwrap_err(),
        &[
            "not in the local module store",
            "DRBOOK_REGISTRY_OFFLINE",
            "drbook runbook pull",
        ],
    );
}
