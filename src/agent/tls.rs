//! TLS for https checks: the certificate must chain to a trusted anchor and
//! name the URL's host (an address host is matched against the IP
//! addresses of the certificate). Anchors are the system's CA bundle and the
//! agent's `--ca-file`.

use crate::ir::Target;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;

/// Where systems keep their CA bundle: Debian and friends, then OpenBSD.
const SYSTEM_BUNDLES: [&str; 2] = ["/etc/ssl/certs/ca-certificates.crt", "/etc/ssl/cert.pem"];

/// The client configuration every https check shares, built once at start:
/// a `ca_file` that cannot be read or holds no certificate is an error, so
/// the agent does not start with anchors it was not given.
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    // The system bundle is best effort: a router may have none, and then
    // only `--ca-file` anchors are trusted.
    if let Some(bundle) = SYSTEM_BUNDLES.iter().find(|p| Path::new(p).exists()) {
        if let Ok(certs) = CertificateDer::pem_file_iter(bundle) {
            roots.add_parsable_certificates(certs.flatten());
        }
    }
    if let Some(path) = ca_file {
        let shown = path.display();
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("cannot read `{shown}`: {e}"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("cannot read `{shown}`: {e}"))?;
        if certs.is_empty() {
            return Err(format!("`{shown}` holds no PEM certificate"));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| format!("`{shown}`: not a usable CA certificate: {e}"))?;
        }
    }
    let config = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A TLS session over `tcp`, handshake done and the certificate verified
/// for `host`.
pub fn connect(
    config: &Arc<ClientConfig>,
    host: &Target,
    mut tcp: TcpStream,
) -> Result<StreamOwned<ClientConnection, TcpStream>, String> {
    let name = match host {
        Target::Address(addr) => ServerName::from(*addr),
        Target::Hostname(name) => {
            ServerName::try_from(name.clone()).map_err(|_| format!("`{name}` is not a name a certificate can hold"))?
        }
    };
    let mut session = ClientConnection::new(config.clone(), name).map_err(|e| format!("TLS: {e}"))?;
    // Done here rather than on first write, so that a refused certificate
    // is reported as the handshake's failure.
    while session.is_handshaking() {
        session.complete_io(&mut tcp).map_err(|e| format!("TLS handshake failed: {e}"))?;
    }
    Ok(StreamOwned::new(session, tcp))
}
