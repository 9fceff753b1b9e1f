//! Database client/server protocols, recognised by the first message of a connection: MySQL
//! ([`mysql`], the server's greeting), PostgreSQL ([`postgres`], the client's startup
//! message), Microsoft SQL Server ([`tds`], the client's PRELOGIN) and Oracle ([`tns`], the
//! client's TNS Connect).
//!
//! Owns only those opening messages. It does *not* follow authentication, queries or TLS
//! (PostgreSQL's and TDS's in-band TLS are reported under the database's name, as nDPI does).
//! A flow whose first payload is not the opening message is rejected.
//!
//! State: none (each verdict is given on the first payload).

pub mod mysql;
pub mod postgres;
pub mod tds;
pub mod tns;

/// Longest version or user string kept in the metadata.
const MAX_TEXT: usize = 64;

/// `b` as text, at most [`MAX_TEXT`] bytes.
fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.len().min(MAX_TEXT)]).into_owned()
}
