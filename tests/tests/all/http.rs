//! The `http-probe` guest as built, with no capability manifest: its
//! requests are refused before any connection (issue 16). Its grants,
//! journal and bounds are tested from the command line in
//! `crates/drbook/tests/http_cli.rs`.

use drbook_tests::guests;
use serde_json::Value;

use crate::cli::{stderr, Cli};

/// A module without an HTTP grant asks for a listener on 127.0.0.1: it is
/// told `not-granted`, naming the grant to add, and the listener sees no
/// connection.
#[test]
pub(crate) fn a_module_without_the_grant_connects_nowhere() {
    let cli = Cli::demo();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests =
        format!("requests=GET http://127.0.0.1:{port}/health;POST http://127.0.0.1:{port}/hook");
    let plan = cli.plan();
    let out = cli.run(&[
        "run",
        guests::HTTP_PROBE,
        "--plan",
        &plan,
        "--json",
        "--param",
        &requests,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let results: Vec<Value> = serde_json::from_str(doc["output"].as_str().unwrap()).unwrap();
    assert_eq!(results.len(), 2);
    for result in &results {
        assert_eq!(result["error"], "not-granted", "{result}");
        assert!(
            result["message"]
                .as_str()
                .unwrap()
                .contains("the module's manifest grants no HTTP destination"),
            "{result}"
        );
    }
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the listener was reached: {other:?}"),
    }
}
