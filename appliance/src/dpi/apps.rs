//! Names, categories and guesses: turns a flow's [`DpiResult`] (or nothing) into nDPI-compatible
//! [`DpiFields`]. Being built (placeholder until the data file lands).

use std::path::Path;

use super::{Confidence, DpiFields, DpiResult, FlowIdentity};

/// The application table: server-name patterns, address ranges, port guesses, categories.
#[derive(Clone, Debug, Default)]
pub struct AppTable {}

impl AppTable {
    /// The table shipped in the repository.
    pub fn builtin() -> AppTable {
        AppTable {}
    }

    /// Adds the entries of a user's file (same format as the shipped one).
    pub fn extend_from_file(&mut self, _path: &Path) -> Result<(), String> {
        Ok(())
    }

    /// The exported fields of a flow.
    pub fn classify(&self, result: Option<&DpiResult>, _id: &FlowIdentity) -> DpiFields {
        match result {
            Some(r) => DpiFields {
                application_name: r.master.unwrap_or("Unknown").to_string(),
                application_category_name: "Unspecified".into(),
                application_is_guessed: false,
                application_confidence: if r.master.is_some() {
                    Confidence::Dpi
                } else {
                    Confidence::Unknown
                },
                requested_server_name: r.requested_server_name.clone(),
                client_fingerprint: r.client_fingerprint.clone(),
                server_fingerprint: r.server_fingerprint.clone(),
                user_agent: r.user_agent.clone(),
                content_type: r.content_type.clone(),
                meta: r.meta.clone(),
            },
            None => DpiFields {
                application_name: "Unknown".into(),
                application_category_name: "Unspecified".into(),
                ..DpiFields::default()
            },
        }
    }
}
