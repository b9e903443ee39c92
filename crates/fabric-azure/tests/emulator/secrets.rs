//! No token or secret in the logs or the audit log: a full cycle logged at
//! `trace`, then searched.

use super::common;
use drbook_arm_emulator::Config;
use drbook_core::fabric::{Direction, Fabric, OperationRequest};
use std::io::Write;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn no_token_or_secret_is_logged() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let env = common::start(Some(common::estate(2)), Config::default()).await;
    let fabric = env.fabric("azure");
    for request in [
        OperationRequest::PlannedFailover {
            direction: Direction::PrimaryToRecovery,
        },
        OperationRequest::Commit,
    ] {
        let id = fabric
            .start("vm-000", &request, &format!("secrets {:?}", request.kind()))
            .await
            .unwrap();
        fabric.wait(&id, &mut |_| {}).await.unwrap();
    }
    env.emu.revoke_tokens();
    fabric.list_items().await.unwrap();
    let (token, _) = fabric.arm().credentials().token().await.unwrap();

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("ARM"), "the capture works: {logs}");
    let audit = std::fs::read_to_string(
        env.dir
            .path()
            .join("azure")
            .join(drbook_fabric_azure::AUDIT_FILE),
    )
    .unwrap();
    for (what, text) in [("logs", &logs), ("audit log", &audit)] {
        assert!(!text.contains(token.secret()), "the token is in the {what}");
        assert!(
            !text.contains(common::SECRET),
            "the identity secret is in the {what}"
        );
        assert!(!text.contains("emu."), "a token (emu.…) is in the {what}");
    }
}
