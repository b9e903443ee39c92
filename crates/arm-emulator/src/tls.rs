//! The certificate made at start: a throwaway CA, and a server certificate it
//! signs for `localhost` and `127.0.0.1` (rustls refuses a CA certificate as
//! a server's own, so a single self-signed one would not do). Clients trust
//! the CA's PEM, written to a file.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The CA's PEM and the server's TLS configuration.
pub struct Tls {
    pub ca_pem: String,
    pub server: Arc<rustls::ServerConfig>,
    /// Hex SHA-256 of the server certificate's DER: what a client pins.
    pub fingerprint: String,
}

/// A CA and a server certificate, both named after `name` (`<name> CA`).
pub fn make(name: &str) -> Result<Tls, String> {
    let err = |what: &str, e: &dyn std::fmt::Display| format!("cannot make the {what}: {e}");

    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(|e| err("CA", &e))?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.distinguished_name
        .push(DnType::CommonName, format!("{name} CA"));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate().map_err(|e| err("CA key", &e))?;
    let ca_cert = ca.self_signed(&ca_key).map_err(|e| err("CA", &e))?;
    let issuer = Issuer::new(ca, ca_key);

    let mut leaf = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .map_err(|e| err("server certificate", &e))?;
    leaf.distinguished_name.push(DnType::CommonName, name);
    leaf.use_authority_key_identifier_extension = true;
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_key = KeyPair::generate().map_err(|e| err("server key", &e))?;
    let leaf_cert = leaf
        .signed_by(&leaf_key, &issuer)
        .map_err(|e| err("server certificate", &e))?;

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| err("TLS configuration", &e))?
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf_cert.der().clone(), ca_cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )
        .map_err(|e| err("TLS configuration", &e))?;
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    let fingerprint = hex::encode(Sha256::digest(leaf_cert.der()));
    Ok(Tls {
        fingerprint,
        ca_pem: ca_cert.pem(),
        server: Arc::new(server),
    })
}
