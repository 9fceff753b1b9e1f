//! Reading an application-table file (TOML; the format is documented at the top of
//! `appliance/data/apps.toml`) into an [`AppTable`], then recompiling its lookup structures.
//!
//! Every check runs here, at start-up: unknown keys and sections, categories, protocol and
//! application names, patterns, prefixes, ports. An error names the file, the line, the key,
//! and says how to fix it (with a "did you mean" when a known name is close). Within one file a
//! pattern, prefix or port is given once; a later file (the user's) may redefine anything.
//!
//! This module does not classify flows.

use std::collections::HashMap;
use std::fmt::Display;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::ops::Range;

use toml_edit::{Document, Item, TableLike, Value};

use super::names::{self, Pattern, Target};
use super::prefixes::network;
use super::{App, AppTable, ContentType, Protocol};

/// The sections of a file, in the order they are applied (later ones refer to earlier ones).
const SECTIONS: [&str; 8] = [
    "categories",
    "protocols",
    "apps",
    "host_categories",
    "ports",
    "ip_protocols",
    "master_ports",
    "content_types",
];

/// Keys of a protocol's table.
const PROTOCOL_KEYS: [&str; 6] = [
    "category",
    "master_category",
    "names",
    "media",
    "by_address",
    "reject_is_final",
];

/// Keys of an application's table.
const APP_KEYS: [&str; 5] = ["category", "call", "hosts", "ipv4", "ipv6"];

/// Keys of a Content-Type entry.
const CONTENT_TYPE_KEYS: [&str; 2] = ["category", "app"];

/// Keys of a port entry.
const PORT_KEYS: [&str; 2] = ["tcp", "udp"];

/// The file being read, for error messages.
struct Source<'a> {
    path: &'a str,
    raw: &'a str,
    /// Byte offsets of the newlines (lines are asked for every entry: no rescans).
    newlines: Vec<usize>,
}

impl<'a> Source<'a> {
    fn new(path: &'a str, raw: &'a str) -> Self {
        let newlines = raw
            .bytes()
            .enumerate()
            .filter_map(|(i, b)| (b == b'\n').then_some(i))
            .collect();
        Source {
            path,
            raw,
            newlines,
        }
    }

    /// 1-based line of a byte offset.
    fn line(&self, span: Option<Range<usize>>) -> usize {
        let at = span.map_or(0, |s| s.start.min(self.raw.len()));
        self.newlines.partition_point(|&n| n < at) + 1
    }

    /// An error at `span`, about `key`.
    fn err(&self, span: Option<Range<usize>>, key: &str, msg: impl Display) -> String {
        format!("{} line {}: `{key}`: {msg}", self.path, self.line(span))
    }

    /// An error at `span`: `key` names `name`, not a known `what` (with a "did you mean" among
    /// `known`), and how to fix it.
    fn unknown<'k>(
        &self,
        span: Option<Range<usize>>,
        key: &str,
        what: &str,
        name: &str,
        known: impl IntoIterator<Item = &'k str>,
        fix: impl Display,
    ) -> String {
        let hint = suggest(name, known);
        self.err(span, key, format!("unknown {what} `{name}`{hint}; {fix}"))
    }

    /// An error at `span`: `key` holds a `found` where `what` was expected.
    fn expected(&self, span: Option<Range<usize>>, key: &str, what: &str, found: &str) -> String {
        self.err(span, key, format!("expected {what}, found {found}"))
    }
}

/// What this file already gave, to refuse a second definition inside one file.
#[derive(Default)]
struct Seen {
    /// Pattern → (line, key) of the application giving it.
    app_patterns: HashMap<String, (usize, String)>,
    /// Pattern → line of its `host_categories` entry.
    category_patterns: HashMap<String, usize>,
    /// (network, length, family) → (line, key).
    prefixes: HashMap<(u128, u8, u8), (usize, String)>,
    /// (transport, port) → (line, protocol).
    ports: HashMap<(u8, u16), (usize, String)>,
    /// Calls to check once every application is known: (line, key, name).
    calls: Vec<(Option<Range<usize>>, String, String)>,
}

/// Applies the file `raw` (named `path` in errors) to `t` and recompiles it. On error `t` may
/// be half-changed: callers apply to a copy.
pub(super) fn apply(t: &mut AppTable, path: &str, raw: &str) -> Result<(), String> {
    let src = Source::new(path, raw);
    let doc = Document::parse(raw).map_err(|e| {
        format!(
            "{path} line {}: {} (the file must be TOML; see the format at the top of \
             appliance/data/apps.toml)",
            src.line(e.span()),
            e.message().trim_end()
        )
    })?;
    let root = doc.as_table();
    for (key, item) in root.iter() {
        if !SECTIONS.contains(&key) {
            let span = root.key(key).and_then(|k| k.span()).or_else(|| item.span());
            return Err(src.err(
                span,
                key,
                format!(
                    "unknown section{}; the sections are {}",
                    suggest(key, SECTIONS),
                    SECTIONS.join(", ")
                ),
            ));
        }
    }
    let mut seen = Seen::default();
    if let Some(item) = root.get("categories") {
        categories(t, &src, item)?;
    }
    let sections: [(&str, Reader); 7] = [
        ("protocols", protocols),
        ("apps", apps),
        ("host_categories", host_categories),
        ("ports", ports),
        ("ip_protocols", ip_protocols),
        ("master_ports", master_ports),
        ("content_types", content_types),
    ];
    for (name, read) in sections {
        if let Some(item) = root.get(name) {
            let section = as_table(&src, item, name)?;
            read(t, &src, section, &mut seen)?;
        }
    }
    for (span, key, call) in &seen.calls {
        if !t.app_ids.contains_key(call) {
            return Err(src.unknown(
                span.clone(),
                key,
                "application",
                call,
                t.app_ids.keys().map(String::as_str),
                format_args!("define it under [apps.{call}] first"),
            ));
        }
    }
    t.compile();
    Ok(())
}

/// Reads one section's table.
type Reader = fn(&mut AppTable, &Source<'_>, &dyn TableLike, &mut Seen) -> Result<(), String>;

/// `categories = [...]`.
fn categories(t: &mut AppTable, src: &Source<'_>, item: &Item) -> Result<(), String> {
    let Some(list) = item.as_array() else {
        return Err(src.err(
            item.span(),
            "categories",
            format!(
                "expected an array of names, found {}; write `categories = [\"Web\", ...]`",
                item.type_name()
            ),
        ));
    };
    for (i, v) in list.iter().enumerate() {
        let key = format!("categories[{i}]");
        let name = value_str(src, v, &key)?;
        check_name(src, v.span(), &key, name)?;
        t.add_category(name);
    }
    Ok(())
}

/// `[protocols]`: `NAME = "Category"` or `NAME = { category = ..., flags }`.
fn protocols(
    t: &mut AppTable,
    src: &Source<'_>,
    section: &dyn TableLike,
    _seen: &mut Seen,
) -> Result<(), String> {
    for (name, item) in section.iter() {
        let key = format!("protocols.{name}");
        let span = key_span(section, name, item);
        check_name(src, span.clone(), &key, name)?;
        let mut p = Protocol {
            name: name.to_string(),
            category: super::UNSPECIFIED,
            master_category: false,
            names: true,
            media: false,
            by_address: false,
            reject_is_final: false,
        };
        if let Some(category) = item.as_str() {
            p.category = category_id(t, src, item.span(), &key, category)?;
        } else if let Some(table) = item.as_table_like() {
            check_keys(src, table, &key, &PROTOCOL_KEYS)?;
            let Some(c) = table.get("category") else {
                return Err(src.err(
                    span,
                    &key,
                    "missing `category`; write `{ category = \"Network\", ... }`",
                ));
            };
            p.category = category_of(t, src, c, &key)?;
            for (flag, slot) in [
                ("master_category", &mut p.master_category),
                ("names", &mut p.names),
                ("media", &mut p.media),
                ("by_address", &mut p.by_address),
                ("reject_is_final", &mut p.reject_is_final),
            ] {
                if let Some(v) = table.get(flag) {
                    let f_key = format!("{key}.{flag}");
                    *slot = v.as_bool().ok_or_else(|| {
                        src.expected(v.span(), &f_key, "true or false", v.type_name())
                    })?;
                }
            }
        } else {
            return Err(src.err(
                span,
                &key,
                format!(
                    "expected a category name or a table, found {}; write \
                     `{name} = \"Network\"`",
                    item.type_name()
                ),
            ));
        }
        match t.protocol_ids.get(name) {
            Some(&i) => t.protocols[usize::from(i)] = p,
            None => {
                let i = index(t.protocols.len(), src, span, &key)?;
                t.protocols.push(p);
                t.protocol_ids.insert(name.to_string(), i);
            }
        }
    }
    Ok(())
}

/// `[apps.NAME]` tables.
fn apps(
    t: &mut AppTable,
    src: &Source<'_>,
    section: &dyn TableLike,
    seen: &mut Seen,
) -> Result<(), String> {
    for (name, item) in section.iter() {
        let key = format!("apps.{name}");
        let span = key_span(section, name, item);
        check_name(src, span.clone(), &key, name)?;
        let table = as_table(src, item, &key)?;
        check_keys(src, table, &key, &APP_KEYS)?;
        let category = match table.get("category") {
            Some(c) => Some(category_of(t, src, c, &key)?),
            None => None,
        };
        let call = match table.get("call") {
            Some(c) => {
                let c_key = format!("{key}.call");
                let call = item_str(src, c, &c_key)?.to_string();
                seen.calls.push((c.span(), c_key, call.clone()));
                Some(call)
            }
            None => None,
        };
        let id = match t.app_ids.get(name) {
            Some(&i) => {
                let app = &mut t.apps[usize::from(i)];
                if let Some(c) = category {
                    app.category = c;
                }
                if call.is_some() {
                    app.call = call;
                }
                i
            }
            None => {
                let Some(category) = category else {
                    return Err(src.err(
                        span,
                        &key,
                        "a new application needs a `category`; add `category = \"Web\"` (or \
                         another name of `categories`)",
                    ));
                };
                let i = index(t.apps.len(), src, span, &key)?;
                t.apps.push(App {
                    name: name.to_string(),
                    category,
                    call,
                    call_id: None,
                });
                t.app_ids.insert(name.to_string(), i);
                i
            }
        };
        if let Some(hosts) = table.get("hosts") {
            let h_key = format!("{key}.hosts");
            for (j, v) in array(src, hosts, &h_key)?.iter().enumerate() {
                let e_key = format!("{h_key}[{j}]");
                let text = pattern(src, v, &e_key)?;
                let line = src.line(v.span());
                if let Some((l, other)) = seen.app_patterns.get(&text) {
                    return Err(src.err(
                        v.span(),
                        &e_key,
                        format!(
                            "pattern `{text}` is already given at line {l} (`{other}`); keep one"
                        ),
                    ));
                }
                seen.app_patterns.insert(text.clone(), (line, e_key));
                set_pattern(t, text, |target| target.app = Some(id));
            }
        }
        for (family, width) in [("ipv4", 32u8), ("ipv6", 128u8)] {
            let Some(list) = table.get(family) else {
                continue;
            };
            let l_key = format!("{key}.{family}");
            for (j, v) in array(src, list, &l_key)?.iter().enumerate() {
                let e_key = format!("{l_key}[{j}]");
                let (net, len) = prefix(src, v, &e_key, width)?;
                if let Some((l, other)) = seen.prefixes.get(&(net, len, width)) {
                    return Err(src.err(
                        v.span(),
                        &e_key,
                        format!("this prefix is already given at line {l} (`{other}`); keep one"),
                    ));
                }
                seen.prefixes
                    .insert((net, len, width), (src.line(v.span()), e_key));
                let map = if width == 32 {
                    &mut t.v4_prefixes
                } else {
                    &mut t.v6_prefixes
                };
                map.insert((net, len), id);
            }
        }
    }
    Ok(())
}

/// `[host_categories]`: `"pattern" = "Category"`.
fn host_categories(
    t: &mut AppTable,
    src: &Source<'_>,
    section: &dyn TableLike,
    seen: &mut Seen,
) -> Result<(), String> {
    for (raw, item) in section.iter() {
        let key = format!("host_categories.\"{raw}\"");
        let span = key_span(section, raw, item);
        let text = names::normalize(raw).map_err(|why| {
            src.err(
                span.clone(),
                &key,
                format!("this pattern {why}; write e.g. `\"example.com\"`"),
            )
        })?;
        let category = category_id(t, src, item.span(), &key, item_str(src, item, &key)?)?;
        if let Some(l) = seen.category_patterns.get(&text) {
            return Err(src.err(
                span,
                &key,
                format!("pattern `{text}` is already given at line {l}; keep one"),
            ));
        }
        seen.category_patterns.insert(text.clone(), src.line(span));
        set_pattern(t, text, |target| target.category = Some(category));
    }
    Ok(())
}

/// `[ports]`: `NAME = { tcp = [...], udp = [...] }`.
fn ports(
    t: &mut AppTable,
    src: &Source<'_>,
    section: &dyn TableLike,
    seen: &mut Seen,
) -> Result<(), String> {
    for (name, item) in section.iter() {
        let key = format!("ports.{name}");
        let span = key_span(section, name, item);
        let proto = protocol_id(t, src, span, &key, name)?;
        let table = as_table(src, item, &key)?;
        check_keys(src, table, &key, &PORT_KEYS)?;
        for (transport, number) in [("tcp", 6u8), ("udp", 17u8)] {
            let Some(list) = table.get(transport) else {
                continue;
            };
            let l_key = format!("{key}.{transport}");
            for (j, v) in array(src, list, &l_key)?.iter().enumerate() {
                let e_key = format!("{l_key}[{j}]");
                for port in port_range(src, v, &e_key)? {
                    if let Some((l, other)) = seen.ports.get(&(number, port)) {
                        return Err(src.err(
                            v.span(),
                            &e_key,
                            format!(
                                "{transport} port {port} is already given to `{other}` at line \
                                 {l}; a port guesses one protocol"
                            ),
                        ));
                    }
                    seen.ports
                        .insert((number, port), (src.line(v.span()), name.to_string()));
                    let table = if number == 6 {
                        &mut t.tcp_ports
                    } else {
                        &mut t.udp_ports
                    };
                    table[usize::from(port)] = proto;
                }
            }
        }
    }
    Ok(())
}

/// `[ip_protocols]`: `"47" = "GRE"`.
fn ip_protocols(
    t: &mut AppTable,
    src: &Source<'_>,
    section: &dyn TableLike,
    _seen: &mut Seen,
) -> Result<(), String> {
    for (number, item) in section.iter() {
        let key = format!("ip_protocols.\"{number}\"");
        let span = key_span(section, number, item);
        let n: u8 = number.parse().map_err(|_| {
            src.err(
                span.clone(),
                &key,
                "the key must be an IP protocol number from 0 to 255, e.g. `\"47\" = \"GRE\"`",
            )
        })?;
        let name = item_str(src, item, &key)?;
        t.ip_protocols[usize::from(n)] = protocol_id(t, src, item.span(), &key, name)?;
    }
    Ok(())
}

/// `[master_ports]`: `MASTER = { "853" = "App" }`.
fn master_ports(
    t: &mut AppTable,
    src: &Source<'_>,
    section: &dyn TableLike,
    _seen: &mut Seen,
) -> Result<(), String> {
    for (master, item) in section.iter() {
        let key = format!("master_ports.{master}");
        let span = key_span(section, master, item);
        let m = protocol_id(t, src, span, &key, master)?;
        let table = as_table(src, item, &key)?;
        for (port, v) in table.iter() {
            let p_key = format!("{key}.\"{port}\"");
            let p_span = key_span(table, port, v);
            let p: u16 = port.parse().map_err(|_| {
                src.err(
                    p_span.clone(),
                    &p_key,
                    "the key must be a port number from 0 to 65535, e.g. `\"853\" = \"DoH_DoT\"`",
                )
            })?;
            let app = item_str(src, v, &p_key)?;
            let a = app_id(t, src, v.span(), &p_key, app)?;
            t.master_ports.insert((m, p), a);
        }
    }
    Ok(())
}

/// `[content_types]`: `"video/" = "Media"` or `"application/ocsp-response" = { app = "OCSP" }`.
fn content_types(
    t: &mut AppTable,
    src: &Source<'_>,
    section: &dyn TableLike,
    _seen: &mut Seen,
) -> Result<(), String> {
    for (prefix, item) in section.iter() {
        let key = format!("content_types.\"{prefix}\"");
        let span = key_span(section, prefix, item);
        if prefix.is_empty() || !prefix.is_ascii() {
            return Err(src.err(
                span,
                &key,
                "a Content-Type prefix is non-empty ASCII, e.g. `\"video/\"`",
            ));
        }
        let mut entry = ContentType {
            prefix: prefix.to_ascii_lowercase(),
            category: None,
            app: None,
        };
        if let Some(category) = item.as_str() {
            entry.category = Some(category_id(t, src, item.span(), &key, category)?);
        } else if let Some(table) = item.as_table_like() {
            check_keys(src, table, &key, &CONTENT_TYPE_KEYS)?;
            if let Some(c) = table.get("category") {
                entry.category = Some(category_of(t, src, c, &key)?);
            }
            if let Some(a) = table.get("app") {
                let a_key = format!("{key}.app");
                let app = item_str(src, a, &a_key)?;
                entry.app = Some(app_id(t, src, a.span(), &a_key, app)?);
            }
            if entry.category.is_none() && entry.app.is_none() {
                return Err(src.err(span, &key, "give a `category`, an `app` or both"));
            }
        } else {
            return Err(src.err(
                span,
                &key,
                format!(
                    "expected a category name or a table, found {}; write `\"{prefix}\" = \"Media\"`",
                    item.type_name()
                ),
            ));
        }
        match t
            .content_types
            .iter_mut()
            .find(|c| c.prefix == entry.prefix)
        {
            Some(slot) => *slot = entry,
            None => t.content_types.push(entry),
        }
    }
    // Longest prefix first, so that a specific type beats a family (`video/x` before `video/`).
    t.content_types
        .sort_by_key(|c| std::cmp::Reverse(c.prefix.len()));
    Ok(())
}

/// Sets the target of pattern `text`, adding the pattern if new.
fn set_pattern(t: &mut AppTable, text: String, set: impl FnOnce(&mut Target)) {
    match t.pattern_ids.get(&text) {
        Some(&i) => set(&mut t.patterns[i].target),
        None => {
            let mut target = Target::default();
            set(&mut target);
            t.pattern_ids.insert(text.clone(), t.patterns.len());
            t.patterns.push(Pattern { text, target });
        }
    }
}

/// The span of `name`'s key in `table`, else of its value.
fn key_span(table: &dyn TableLike, name: &str, item: &Item) -> Option<Range<usize>> {
    table
        .key(name)
        .and_then(|k| k.span())
        .or_else(|| item.span())
}

/// `item` as a table (`[x]` or `{ ... }`).
fn as_table<'i>(src: &Source<'_>, item: &'i Item, key: &str) -> Result<&'i dyn TableLike, String> {
    item.as_table_like()
        .ok_or_else(|| src.expected(item.span(), key, "a table", item.type_name()))
}

/// `item` as an array.
fn array<'i>(src: &Source<'_>, item: &'i Item, key: &str) -> Result<&'i toml_edit::Array, String> {
    item.as_array()
        .ok_or_else(|| src.expected(item.span(), key, "an array `[...]`", item.type_name()))
}

/// `item` as a string.
fn item_str<'i>(src: &Source<'_>, item: &'i Item, key: &str) -> Result<&'i str, String> {
    item.as_str()
        .ok_or_else(|| src.expected(item.span(), key, "a string", item.type_name()))
}

/// `v` as a string.
fn value_str<'v>(src: &Source<'_>, v: &'v Value, key: &str) -> Result<&'v str, String> {
    v.as_str()
        .ok_or_else(|| src.expected(v.span(), key, "a string", v.type_name()))
}

/// Refuses keys of `table` not in `known`.
fn check_keys(
    src: &Source<'_>,
    table: &dyn TableLike,
    key: &str,
    known: &[&str],
) -> Result<(), String> {
    for (k, item) in table.iter() {
        if !known.contains(&k) {
            return Err(src.err(
                key_span(table, k, item),
                &format!("{key}.{k}"),
                format!(
                    "unknown key{}; the keys are {}",
                    suggest(k, known.iter().copied()),
                    known.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// A protocol, application or category name: printable ASCII without spaces or `.` (which
/// separates master and application in `Master.App`).
fn check_name(
    src: &Source<'_>,
    span: Option<Range<usize>>,
    key: &str,
    name: &str,
) -> Result<(), String> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'.' && b != b'"')
    {
        return Err(src.err(
            span,
            key,
            format!(
                "`{name}` is not a valid name: use 1 to 64 ASCII letters, digits and signs, \
                 without spaces or `.`"
            ),
        ));
    }
    Ok(())
}

/// The index of category `name`.
fn category_id(
    t: &AppTable,
    src: &Source<'_>,
    span: Option<Range<usize>>,
    key: &str,
    name: &str,
) -> Result<u16, String> {
    t.category_ids.get(name).copied().ok_or_else(|| {
        src.unknown(
            span,
            key,
            "category",
            name,
            t.categories.iter().map(String::as_str),
            "use a name of `categories`, or add it there",
        )
    })
}

/// The index of the category `item` names, the value of `{key}.category`.
fn category_of(t: &AppTable, src: &Source<'_>, item: &Item, key: &str) -> Result<u16, String> {
    let c_key = format!("{key}.category");
    category_id(t, src, item.span(), &c_key, item_str(src, item, &c_key)?)
}

/// The index of protocol `name`.
fn protocol_id(
    t: &AppTable,
    src: &Source<'_>,
    span: Option<Range<usize>>,
    key: &str,
    name: &str,
) -> Result<u16, String> {
    t.protocol_ids.get(name).copied().ok_or_else(|| {
        src.unknown(
            span,
            key,
            "protocol",
            name,
            t.protocol_ids.keys().map(String::as_str),
            "define it in [protocols] with its category",
        )
    })
}

/// The index of application `name`.
fn app_id(
    t: &AppTable,
    src: &Source<'_>,
    span: Option<Range<usize>>,
    key: &str,
    name: &str,
) -> Result<u16, String> {
    t.app_ids.get(name).copied().ok_or_else(|| {
        src.unknown(
            span,
            key,
            "application",
            name,
            t.app_ids.keys().map(String::as_str),
            format_args!("define it under [apps.{name}]"),
        )
    })
}

/// The next index of a table, refused past what the lookup arrays can hold.
fn index(
    len: usize,
    src: &Source<'_>,
    span: Option<Range<usize>>,
    key: &str,
) -> Result<u16, String> {
    u16::try_from(len)
        .ok()
        .filter(|&i| i < super::NONE)
        .ok_or_else(|| src.err(span, key, "too many entries (at most 65535); merge some"))
}

/// A server-name pattern.
fn pattern(src: &Source<'_>, v: &Value, key: &str) -> Result<String, String> {
    let raw = value_str(src, v, key)?;
    names::normalize(raw).map_err(|why| {
        src.err(
            v.span(),
            key,
            format!(
                "pattern `{raw}` {why}; write a domain (`\"example.com\"`) or a label prefix \
                 (`\"example.\"`)"
            ),
        )
    })
}

/// An address prefix `addr/len` (a bare address is a host prefix) of a `width`-bit family,
/// as (network, length).
fn prefix(src: &Source<'_>, v: &Value, key: &str, width: u8) -> Result<(u128, u8), String> {
    let raw = value_str(src, v, key)?;
    let (addr, len) = match raw.split_once('/') {
        Some((a, l)) => (a, l.parse::<u8>().ok()),
        None => (raw, Some(width)),
    };
    let addr = if width == 32 {
        addr.parse::<Ipv4Addr>()
            .ok()
            .map(|a| u128::from(u32::from(a)))
    } else {
        addr.parse::<Ipv6Addr>().ok().map(u128::from)
    };
    let example = if width == 32 {
        "\"192.0.2.0/24\""
    } else {
        "\"2001:db8::/32\""
    };
    let (Some(addr), Some(len)) = (addr, len.filter(|&l| l <= width)) else {
        return Err(src.err(
            v.span(),
            key,
            format!(
                "`{raw}` is not an IPv{} prefix; write e.g. `{example}`",
                if width == 32 { 4 } else { 6 }
            ),
        ));
    };
    let net = network(addr, len, width);
    if net != addr {
        return Err(src.err(
            v.span(),
            key,
            format!(
                "`{raw}` has bits set after the first {len}; write the network, `{}/{len}`",
                if width == 32 {
                    Ipv4Addr::from(net as u32).to_string()
                } else {
                    Ipv6Addr::from(net).to_string()
                }
            ),
        ));
    }
    Ok((net, len))
}

/// A port (`80`) or an inclusive range (`"6881-6889"`).
fn port_range(
    src: &Source<'_>,
    v: &Value,
    key: &str,
) -> Result<std::ops::RangeInclusive<u16>, String> {
    let bad = || {
        src.err(
            v.span(),
            key,
            "expected a port from 0 to 65535 or a range string like \"6881-6889\"",
        )
    };
    if let Some(n) = v.as_integer() {
        let p = u16::try_from(n).map_err(|_| bad())?;
        return Ok(p..=p);
    }
    let s = v.as_str().ok_or_else(bad)?;
    let (lo, hi) = s.split_once('-').ok_or_else(bad)?;
    let lo: u16 = lo.trim().parse().map_err(|_| bad())?;
    let hi: u16 = hi.trim().parse().map_err(|_| bad())?;
    if lo > hi {
        return Err(src.err(
            v.span(),
            key,
            format!("range `{s}` is reversed; write `\"{hi}-{lo}\"`"),
        ));
    }
    Ok(lo..=hi)
}

/// ` (did you mean `x`?)` when a candidate is close to `word`.
fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    candidates
        .into_iter()
        .map(|c| {
            (
                strsim::jaro_winkler(&word.to_ascii_lowercase(), &c.to_ascii_lowercase()),
                c,
            )
        })
        .filter(|(score, _)| *score > 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, c)| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default()
}
