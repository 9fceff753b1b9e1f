//! Names, categories and guesses: turns a flow's [`DpiResult`] (or nothing) into the
//! nDPI-compatible [`DpiFields`] nfstream exports (`application_name` as `Master.App`,
//! `Master`, `App` or `Unknown`; `application_category_name`; guessed or not; confidence).
//!
//! The data lives in `appliance/data/apps.toml` (embedded, parsed once; its header documents
//! the format and the naming steps); `--dpi-apps FILE` adds a file of the same format. An
//! [`AppTable`] holds it compiled: one Aho-Corasick automaton over the server-name patterns
//! (`names.rs`), longest-prefix tables of application addresses (`prefixes.rs`), direct port and
//! IP-protocol arrays. [`AppTable::classify`] runs once per ended flow: at most two automaton
//! searches (server name, then the TLS certificate's CN), a port lookup, a few address-prefix
//! probes; it allocates only the output strings.
//!
//! This module does not dissect anything (the dissectors fill [`DpiResult`]) and keeps no
//! state between flows: nDPI's cross-flow caches (e.g. Teams flows named from an earlier Teams
//! flow of the same client) are not reproduced.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::OnceLock;

use super::{Confidence, DpiFields, DpiResult, FlowIdentity, Value};

mod load;
mod names;
mod prefixes;

#[cfg(test)]
mod reference;
#[cfg(test)]
mod tests;

use names::{HostMatcher, Pattern};
use prefixes::PrefixTable;

/// The shipped data file.
const BUILTIN: &str = include_str!("../../../data/apps.toml");

/// How the shipped file is named in error messages.
const BUILTIN_PATH: &str = "appliance/data/apps.toml (built in)";

/// Index of `Unspecified` in every table's categories.
const UNSPECIFIED: u16 = 0;

/// No entry in a port or IP-protocol array.
const NONE: u16 = u16::MAX;

/// Meta field of the TLS dissector holding the server certificate's subject CN.
const TLS_SERVER_CN: &str = "tls_server_cn";

/// A master protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Protocol {
    name: String,
    category: u16,
    /// The category is the master's whatever the application (DNS, mail).
    master_category: bool,
    /// The server name is looked up (false for local host names: mDNS, DHCP, ...).
    names: bool,
    /// A call protocol: applications are turned into their call app.
    media: bool,
    /// With no application from names or the dissector, the server's address names it.
    by_address: bool,
    /// A flow whose payload xdpflow's dissector refused is not guessed as this protocol.
    reject_is_final: bool,
}

/// An application.
#[derive(Clone, Debug, PartialEq, Eq)]
struct App {
    name: String,
    category: u16,
    /// Its name under a media master, by name until resolved.
    call: Option<String>,
    /// `call` resolved to an index by [`AppTable::compile`].
    call_id: Option<u16>,
}

/// The application table: protocols, applications with their server-name patterns and
/// address prefixes, port guesses, categories. Build it with [`AppTable::builtin`], extend it
/// with [`AppTable::extend_from_file`], share it (it is immutable afterwards).
#[derive(Clone, Debug)]
pub struct AppTable {
    categories: Vec<String>,
    category_ids: HashMap<String, u16>,
    protocols: Vec<Protocol>,
    protocol_ids: HashMap<String, u16>,
    apps: Vec<App>,
    app_ids: HashMap<String, u16>,
    /// Server-name patterns, each text once (the source of `names`).
    patterns: Vec<Pattern>,
    pattern_ids: HashMap<String, usize>,
    names: HostMatcher,
    /// Application prefixes (network, length) → app (the sources of `v4` / `v6`).
    v4_prefixes: BTreeMap<(u128, u8), u16>,
    v6_prefixes: BTreeMap<(u128, u8), u16>,
    v4: PrefixTable,
    v6: PrefixTable,
    /// Protocol by port, `NONE` when unknown: TCP, then UDP.
    tcp_ports: Vec<u16>,
    udp_ports: Vec<u16>,
    /// Protocol by IP protocol number.
    ip_protocols: Vec<u16>,
    /// (master, port) → application.
    master_ports: HashMap<(u16, u16), u16>,
    /// Content-Type prefixes (lower case), longest first.
    content_types: Vec<ContentType>,
}

/// What an HTTP response's Content-Type says.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ContentType {
    /// Lower-case prefix.
    prefix: String,
    /// The flow's category.
    category: Option<u16>,
    /// The flow's application (OCSP), before any server name.
    app: Option<u16>,
}

/// An application as a flow is named: one of the table's, or a name a dissector gave that the
/// table may not know.
#[derive(Clone, Copy, Debug)]
enum AppName {
    Table(u16),
    Dissector(&'static str),
}

impl AppTable {
    /// An empty table: only the `Unspecified` category.
    fn empty() -> AppTable {
        let mut t = AppTable {
            categories: Vec::new(),
            category_ids: HashMap::new(),
            protocols: Vec::new(),
            protocol_ids: HashMap::new(),
            apps: Vec::new(),
            app_ids: HashMap::new(),
            patterns: Vec::new(),
            pattern_ids: HashMap::new(),
            names: HostMatcher::default(),
            v4_prefixes: BTreeMap::new(),
            v6_prefixes: BTreeMap::new(),
            v4: PrefixTable::default(),
            v6: PrefixTable::default(),
            tcp_ports: vec![NONE; 1 << 16],
            udp_ports: vec![NONE; 1 << 16],
            ip_protocols: vec![NONE; 256],
            master_ports: HashMap::new(),
            content_types: Vec::new(),
        };
        t.add_category("Unspecified");
        t
    }

    /// The table shipped in `appliance/data/apps.toml`, parsed on first use.
    ///
    /// # Panics
    ///
    /// Never in a tested build: a unit test parses the shipped file.
    pub fn builtin() -> AppTable {
        static TABLE: OnceLock<AppTable> = OnceLock::new();
        TABLE
            .get_or_init(|| {
                let mut t = AppTable::empty();
                if let Err(e) = load::apply(&mut t, BUILTIN_PATH, BUILTIN) {
                    panic!("the shipped application table is invalid: {e}");
                }
                t
            })
            .clone()
    }

    /// Adds the entries of a user's file (same format as the shipped one): new protocols,
    /// applications, patterns, prefixes and ports; redefined ones replace the shipped ones.
    ///
    /// # Errors
    ///
    /// The file cannot be read or is not valid; the message names the file, the line, the key
    /// and the fix. The table is unchanged then.
    pub fn extend_from_file(&mut self, path: &Path) -> Result<(), String> {
        let shown = path.display().to_string();
        let raw = std::fs::read_to_string(path)
            .map_err(|e| format!("{shown}: cannot read the application table: {e}"))?;
        self.extend_from_str(&shown, &raw)
    }

    /// [`AppTable::extend_from_file`] on text already read; `path` names it in errors.
    ///
    /// # Errors
    ///
    /// As [`AppTable::extend_from_file`].
    pub fn extend_from_str(&mut self, path: &str, raw: &str) -> Result<(), String> {
        let mut next = self.clone();
        load::apply(&mut next, path, raw)?;
        *self = next;
        Ok(())
    }

    /// True when `name` is a master protocol of the table (`TLS`, `DNS`, `Zoom`).
    pub fn is_protocol(&self, name: &str) -> bool {
        self.protocol_ids.contains_key(name)
    }

    /// True when `name` is an application of the table (`YouTube`).
    pub fn is_app(&self, name: &str) -> bool {
        self.app_ids.contains_key(name)
    }

    /// The category of an application, else of a protocol, named `name`.
    pub fn category_of(&self, name: &str) -> Option<&str> {
        self.app_category(name)
            .or_else(|| {
                self.protocol_ids
                    .get(name)
                    .map(|&p| self.protocol(p).category)
            })
            .map(|c| self.category_name(c))
    }

    /// The application a server name belongs to (`r3---sn-x.googlevideo.com` → `YouTube`).
    pub fn app_for_name(&self, server_name: &str) -> Option<&str> {
        self.names
            .lookup(server_name)
            .app
            .map(|a| self.app(a).name.as_str())
    }

    /// The exported fields of a flow: `result` is its DPI result, `None` when the flow never
    /// carried payload in its first packets.
    pub fn classify(&self, result: Option<&DpiResult>, id: &FlowIdentity) -> DpiFields {
        self.classify_owned(result.cloned(), id)
    }

    /// [`AppTable::classify`] of a flow that ended: its strings move into the fields.
    pub fn classify_owned(&self, result: Option<DpiResult>, id: &FlowIdentity) -> DpiFields {
        let label = match result.as_ref().and_then(|r| r.master.map(|m| (m, r))) {
            Some((master, r)) => self.with_master(master, r, id),
            None => self.without_master(result.as_ref(), id),
        };
        let application_name = match (label.master, label.app) {
            (Some(m), Some(a)) if a != m => {
                let mut s = String::with_capacity(m.len() + 1 + a.len());
                s.push_str(m);
                s.push('.');
                s.push_str(a);
                s
            }
            (Some(m), _) => m.to_string(),
            (None, Some(a)) => a.to_string(),
            (None, None) => "Unknown".to_string(),
        };
        let mut fields = DpiFields {
            application_name,
            application_category_name: self.category_name(label.category).to_string(),
            application_is_guessed: label.guessed,
            application_confidence: label.confidence,
            ..DpiFields::default()
        };
        if let Some(r) = result {
            let mut name = r.requested_server_name;
            let cut = name.len() - exported_name(&name).len();
            name.drain(..cut);
            fields.requested_server_name = name;
            fields.client_fingerprint = r.client_fingerprint;
            fields.server_fingerprint = r.server_fingerprint;
            fields.user_agent = r.user_agent;
            fields.content_type = r.content_type;
            fields.meta = r.meta;
        }
        fields
    }

    /// A flow a dissector identified as `master`.
    fn with_master<'s>(
        &'s self,
        master: &'static str,
        r: &DpiResult,
        id: &FlowIdentity,
    ) -> Label<'s> {
        let proto_id = self.protocol_ids.get(master).copied();
        let proto = proto_id.map(|p| self.protocol(p));
        let content = self.content_type(&r.content_type);
        let mut app = proto_id
            .and_then(|p| self.master_port(p, id))
            .or(content.and_then(|c| c.app))
            .map(AppName::Table);
        let mut host_category = None;
        if proto.is_none_or(|p| p.names) {
            let m = self.names.lookup(&r.requested_server_name);
            host_category = m.category;
            if app.is_none() {
                app = m.app.map(AppName::Table);
            }
            // nDPI also names TLS flows by the certificate when the SNI says nothing.
            if app.is_none()
                && let Some(Value::Str(cn)) = r.meta(TLS_SERVER_CN)
            {
                let cn = cn.strip_prefix("*.").unwrap_or(cn);
                app = self.names.lookup(cn).app.map(AppName::Table);
            }
        }
        if app.is_none() {
            app = r.app.map(AppName::Dissector);
        }
        if app.is_none() && proto.is_some_and(|p| p.by_address) {
            app = self.app_by_address(id).map(AppName::Table);
        }
        if proto.is_some_and(|p| p.media) {
            app = app.map(|a| self.call_of(a));
        }
        let category = if let Some(p) = proto.filter(|p| p.master_category) {
            p.category
        } else {
            content
                .and_then(|c| c.category)
                .or(host_category)
                .or_else(|| app.and_then(|a| self.app_name_category(a)))
                .or(proto.map(|p| p.category))
                .unwrap_or(UNSPECIFIED)
        };
        Label {
            master: Some(proto.map_or(master, |p| p.name.as_str())),
            app: app.map(|a| self.app_name(a)),
            category,
            guessed: false,
            confidence: Confidence::Dpi,
        }
    }

    /// A flow no dissector identified (or that carried no payload): the IP protocol, a
    /// dissector's application, the ports, the addresses, in this order.
    fn without_master<'s>(&'s self, result: Option<&DpiResult>, id: &FlowIdentity) -> Label<'s> {
        let dpi = |name: &'s str, category: u16| Label {
            master: None,
            app: Some(name),
            category,
            guessed: false,
            confidence: Confidence::Dpi,
        };
        if id.protocol != 6 && id.protocol != 17 {
            let p = self.ip_protocols[usize::from(id.protocol)];
            if p != NONE {
                let p = self.protocol(p);
                return dpi(&p.name, p.category);
            }
        }
        if let Some(a) = result.and_then(|r| r.app) {
            let category = self.app_name_category(AppName::Dissector(a));
            return dpi(a, category.unwrap_or(UNSPECIFIED));
        }
        if let Some(p) = self.port_guess(id, result.is_some()) {
            let p = self.protocol(p);
            return Label {
                master: None,
                app: Some(&p.name),
                category: p.category,
                guessed: true,
                confidence: Confidence::MatchByPort,
            };
        }
        if let Some(a) = self.app_by_address(id) {
            let a = self.app(a);
            return Label {
                master: None,
                app: Some(&a.name),
                category: a.category,
                guessed: true,
                confidence: Confidence::MatchByIp,
            };
        }
        Label {
            master: None,
            app: None,
            category: UNSPECIFIED,
            guessed: false,
            confidence: Confidence::Unknown,
        }
    }

    /// The protocol of the responder's port, else of the initiator's. `had_payload`: a
    /// protocol whose dissector's refusal is final is not guessed then.
    fn port_guess(&self, id: &FlowIdentity, had_payload: bool) -> Option<u16> {
        let table = match id.protocol {
            6 => &self.tcp_ports,
            17 => &self.udp_ports,
            _ => return None,
        };
        [id.dst_port, id.src_port]
            .into_iter()
            .map(|port| table[usize::from(port)])
            .filter(|&p| p != NONE)
            .find(|&p| !(had_payload && self.protocol(p).reject_is_final))
    }

    /// The application of the responder's address, else of the initiator's.
    fn app_by_address(&self, id: &FlowIdentity) -> Option<u16> {
        match id.ip_version {
            4 => {
                let v4 = |a: &[u8; 16]| u128::from(u32::from_be_bytes([a[0], a[1], a[2], a[3]]));
                self.v4
                    .lookup(v4(&id.dst_ip))
                    .or_else(|| self.v4.lookup(v4(&id.src_ip)))
            }
            6 => self
                .v6
                .lookup(u128::from_be_bytes(id.dst_ip))
                .or_else(|| self.v6.lookup(u128::from_be_bytes(id.src_ip))),
            _ => None,
        }
    }

    /// The application of `master` on either of the flow's ports.
    fn master_port(&self, master: u16, id: &FlowIdentity) -> Option<u16> {
        if self.master_ports.is_empty() {
            return None;
        }
        self.master_ports
            .get(&(master, id.dst_port))
            .or_else(|| self.master_ports.get(&(master, id.src_port)))
            .copied()
    }

    /// The entry of an HTTP response's Content-Type (the longest matching prefix).
    fn content_type(&self, content_type: &str) -> Option<&ContentType> {
        if content_type.is_empty() {
            return None;
        }
        let ct = content_type.trim_start().as_bytes();
        self.content_types.iter().find(|c| {
            let p = c.prefix.as_bytes();
            ct.len() >= p.len() && ct[..p.len()].eq_ignore_ascii_case(p)
        })
    }

    /// `a` under a media master: its call application when it has one.
    fn call_of(&self, a: AppName) -> AppName {
        let id = match a {
            AppName::Table(i) => Some(i),
            AppName::Dissector(name) => self.app_ids.get(name).copied(),
        };
        match id.and_then(|i| self.app(i).call_id) {
            Some(call) => AppName::Table(call),
            None => a,
        }
    }

    fn app_name(&self, a: AppName) -> &str {
        match a {
            AppName::Table(i) => &self.app(i).name,
            AppName::Dissector(name) => name,
        }
    }

    /// The category of an application the flow is named by; a dissector's name may also be a
    /// protocol's (`SMBv1`).
    fn app_name_category(&self, a: AppName) -> Option<u16> {
        match a {
            AppName::Table(i) => Some(self.app(i).category),
            AppName::Dissector(name) => self
                .app_ids
                .get(name)
                .map(|&i| self.app(i).category)
                .or_else(|| {
                    self.protocol_ids
                        .get(name)
                        .map(|&p| self.protocol(p).category)
                }),
        }
    }

    fn app_category(&self, name: &str) -> Option<u16> {
        self.app_ids.get(name).map(|&i| self.app(i).category)
    }

    fn protocol(&self, i: u16) -> &Protocol {
        &self.protocols[usize::from(i)]
    }

    fn app(&self, i: u16) -> &App {
        &self.apps[usize::from(i)]
    }

    fn category_name(&self, i: u16) -> &str {
        &self.categories[usize::from(i)]
    }

    /// The index of category `name`, added if new.
    fn add_category(&mut self, name: &str) -> u16 {
        if let Some(&i) = self.category_ids.get(name) {
            return i;
        }
        let i = self.categories.len() as u16;
        self.categories.push(name.to_string());
        self.category_ids.insert(name.to_string(), i);
        i
    }

    /// Rebuilds the lookup structures from the sources (after a file was applied).
    fn compile(&mut self) {
        self.names = HostMatcher::build(&self.patterns);
        self.v4 = PrefixTable::build(32, &self.v4_prefixes);
        self.v6 = PrefixTable::build(128, &self.v6_prefixes);
        let ids: Vec<Option<u16>> = self
            .apps
            .iter()
            .map(|a| a.call.as_ref().and_then(|c| self.app_ids.get(c).copied()))
            .collect();
        for (app, id) in self.apps.iter_mut().zip(ids) {
            app.call_id = id;
        }
    }
}

/// Longest exported `requested_server_name`, in bytes: nDPI keeps a server name in an
/// 80-byte buffer and, when it is longer, its last 79 bytes (the end of a name says most).
pub const MAX_SERVER_NAME: usize = 79;

/// The exported form of a server name: its last [`MAX_SERVER_NAME`] bytes (on a character
/// boundary), as nfstream shows it. The whole name is still what the application lookup saw.
pub fn exported_name(name: &str) -> &str {
    if name.len() <= MAX_SERVER_NAME {
        return name;
    }
    let mut at = name.len() - MAX_SERVER_NAME;
    while !name.is_char_boundary(at) {
        at += 1;
    }
    &name[at..]
}

/// How a flow is named, before the strings are made.
#[derive(Clone, Copy, Debug)]
struct Label<'s> {
    master: Option<&'s str>,
    app: Option<&'s str>,
    category: u16,
    guessed: bool,
    confidence: Confidence,
}
