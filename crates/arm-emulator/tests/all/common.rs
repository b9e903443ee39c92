//! Starting an emulator over a fresh simulator, and a client that trusts
//! its CA and holds a token from its token endpoint.

use drbook_arm_emulator::{Config, Emulator};
use drbook_core::TimeScale;
use drbook_fabric_sim::{Estate, Simulator};
use reqwest::{Client, Method, StatusCode};
use serde_json::Value;
use std::time::Duration;

pub const API: &str = "2025-08-01";

pub struct Env {
    pub emu: Emulator,
    pub client: Client,
    pub token: String,
    _dir: tempfile::TempDir,
}

/// An answer: status, headers, body (JSON, or Null when empty).
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub fn estate(vms: usize) -> Estate {
    Estate::replicating("eastus", "westus", (0..vms).map(|i| format!("vm-{i:03}")))
}

/// A client that trusts the emulator's CA (and nothing else).
pub fn client(emu: &Emulator) -> Client {
    let pem = std::fs::read(&emu.endpoints().ca_pem_path).expect("the CA file is written");
    let ca = reqwest::Certificate::from_pem(&pem).expect("a PEM certificate");
    Client::builder()
        .tls_certs_only([ca])
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a client")
}

pub async fn start(vms: usize, config: Config) -> Env {
    let dir = tempfile::tempdir().expect("a temp dir");
    let sim =
        Simulator::init(dir.path(), &estate(vms), false, TimeScale::Instant).expect("a simulator");
    start_in(dir, sim, config).await
}

/// An emulator over `sim`, whose store is in `dir`.
pub async fn start_in(dir: tempfile::TempDir, sim: Simulator, config: Config) -> Env {
    let emu = Emulator::start(sim, config, dir.path())
        .await
        .expect("the emulator starts");
    let client = client(&emu);
    let token = fetch_token(&client, &emu).await;
    Env {
        emu,
        client,
        token,
        _dir: dir,
    }
}

/// A token from the plain-HTTP token endpoint, as managed identity asks.
pub async fn fetch_token(client: &Client, emu: &Emulator) -> String {
    let ep = emu.endpoints();
    let body: Value = client
        .get(&ep.token_endpoint)
        .query(&[
            ("api-version", "2019-08-01"),
            ("resource", "https://management.azure.com"),
        ])
        .header("X-IDENTITY-HEADER", &ep.identity_header)
        .header("metadata", "true")
        .send()
        .await
        .expect("the token endpoint answers")
        .json()
        .await
        .expect("JSON");
    body["access_token"].as_str().expect("a token").to_string()
}

impl Env {
    /// Stops the emulator and hands back the directory of its store.
    pub async fn stop(self) -> tempfile::TempDir {
        self.emu.shutdown().await;
        self._dir
    }

    /// `https://…/<vault id><path>?api-version=2025-08-01`.
    pub fn url(&self, path: &str) -> String {
        let ep = self.emu.endpoints();
        format!("{}{}{path}?api-version={API}", ep.base_url, ep.vault_id)
    }

    /// The URL of an item (or of `tail` under it).
    pub fn item_url(&self, vm: &str, tail: &str) -> String {
        self.url(&format!(
            "/replicationFabrics/asr-a2a-default-eastus/replicationProtectionContainers/asr-a2a-default-eastus-container/replicationProtectedItems/{vm}{tail}"
        ))
    }

    pub async fn call(&self, method: Method, url: &str, body: Option<Value>) -> Answer {
        self.call_with(method, url, body, Some(&self.token), None)
            .await
            .expect("an answer")
    }

    pub async fn call_with(
        &self,
        method: Method,
        url: &str,
        body: Option<Value>,
        token: Option<&str>,
        client_request_id: Option<&str>,
    ) -> Result<Answer, reqwest::Error> {
        let mut request = self.client.request(method, url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(id) = client_request_id {
            request = request.header("x-ms-client-request-id", id);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await?;
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("a JSON body")
        };
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    pub async fn get(&self, url: &str) -> Answer {
        self.call(Method::GET, url, None).await
    }

    pub async fn post(&self, url: &str, body: Option<Value>) -> Answer {
        self.call(Method::POST, url, body).await
    }

    /// Polls `Azure-AsyncOperation` until the operation is terminal; its
    /// last status body.
    pub async fn wait(&self, async_operation: &str) -> Value {
        for _ in 0..200 {
            let answer = self.get(async_operation).await;
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
            if answer.body["status"] != "InProgress" {
                return answer.body;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the operation did not end")
    }
}
