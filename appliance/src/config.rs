//! The TOML configuration file: `xdpflow run --config FILE` and `xdpflow check-config FILE`.
//!
//! The file says what the command line says, in the same words: its keys are the long option
//! names of the subcommand (`idle_timeout` or `idle-timeout` for `--idle-timeout`), at the top
//! level or grouped in tables named after the `--help` headings:
//!
//! | table          | `--help` heading     | e.g.                                        |
//! |----------------|----------------------|---------------------------------------------|
//! | `[capture]`    | Capture              | `iface`, `queues`, `cores`, `allow`         |
//! | `[flow]`       | Flow table           | `idle_timeout`, `active_timeout`, `tcp_end` |
//! | `[output]`     | Output               | `json`, `flush_records`, `quiet`            |
//! | `[nmsg]`       | NMSG output          | `nmsg`, `nmsg_zlib`                         |
//! | `[trap]`       | UniRec / TRAP output | `trap`, `trap_bind`                         |
//! | `[redis]`      | Redis output (...)   | `redis`, `redis_layout`                     |
//! | `[operations]` | Operations           | `metrics`                                   |
//!
//! Values: a string or an integer for an option that takes a value; `true` / `false` for a
//! flag (`false` = not given) and for an `on|off` option; a list (or a single value) for a
//! repeatable option (`json`, `nmsg`, `trap`, `allow`, `deny`, `protocols`). The options are
//! read from the clap command ([`crate::cli::Cli`]), never listed here, so a new option is
//! configurable the day it is added; only a new `--help` heading needs a row in [`TABLES`].
//!
//! [`args_with_config`] turns the file into `--key=value` arguments placed right after the
//! subcommand. An option given on the command line replaces the file's setting of it
//! entirely: for a repeatable option the file's list is dropped, not extended. A flag set in
//! the file cannot be cleared from the command line (there are no `--no-*` options).
//!
//! Every check happens before anything runs: each setting goes through clap alone (types,
//! ranges of the value parsers, `on|off` and other choices), then the validated conversions
//! the subcommand itself runs ([`crate::cli::FlowArgs::to_config`],
//! [`crate::cli::OutputArgs::stage_config`], [`crate::cli::CaptureArgs::filter`], queue and
//! CPU lists, sink destinations), and each error is mapped back to its key and line. What
//! needs the machine (does the interface exist, how many queues it has, can the output file
//! be created, can the metrics address be bound) is checked when `run` starts.
//!
//! This module does not own the options' meaning or their checks ([`crate::cli`]), nor
//! printing errors (`main.rs`).

use std::collections::HashSet;
use std::ffi::OsString;
use std::ops::Range;
use std::path::{Path, PathBuf};

use clap::{ArgAction, CommandFactory, Parser};
use toml_edit::{Document, InlineTable, Item, Table, Value};

use crate::cli::{CaptureArg, CaptureArgs, Cli, Command, OutputArgs};
use crate::error::Error;

/// The file's tables: a clap `--help` heading and the table that groups its options.
pub const TABLES: &[(&str, &str)] = &[
    ("Capture", "capture"),
    ("Flow table", "flow"),
    ("Output", "output"),
    ("NMSG output", "nmsg"),
    ("UniRec / TRAP output", "trap"),
    ("Redis output (flow lifecycle)", "redis"),
    ("Operations", "operations"),
];

/// Options that exist on the command line but not in a file, and why.
const NOT_IN_FILE: &[(&str, &str)] = &[
    (
        "config",
        "a config file cannot name another; give --config on the command line",
    ),
    ("help", "help is for the command line: `xdpflow run --help`"),
    (
        "version",
        "version is for the command line: `xdpflow --version`",
    ),
];

/// How an option takes its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// No value (`--stats`): `true` gives it, `false` leaves it out.
    Flag,
    /// One value.
    Single,
    /// Repeatable (`--json A --json B`): a list.
    Repeated,
}

/// An option a config file may set, as clap describes it.
#[derive(Clone, Debug)]
struct Opt {
    /// The long name (`idle-timeout`).
    long: String,
    /// `-i` for `--iface`.
    short: Option<char>,
    kind: Kind,
    /// Its values are exactly `on` and `off`: `true` / `false` are accepted too.
    on_off: bool,
    /// clap requires it (`--iface` of `run`).
    required: bool,
    /// The table it belongs in.
    table: String,
    /// The subcommands that have it (`pcap`, `run`).
    subcommands: Vec<String>,
}

impl Opt {
    /// The key as the documentation writes it (`idle_timeout`).
    fn key(&self) -> String {
        self.long.replace('-', "_")
    }
}

/// The subcommands that read a config file (those with `--config`) and every option they
/// have, from the clap command.
fn options() -> Vec<Opt> {
    let cmd = Cli::command();
    let mut out: Vec<Opt> = Vec::new();
    for sub in cmd.get_subcommands() {
        if !sub.get_arguments().any(|a| a.get_long() == Some("config")) {
            continue;
        }
        let name = sub.get_name().to_string();
        for arg in sub.get_arguments() {
            let Some(long) = arg.get_long() else {
                continue; // positional (capture files): per run, not per box
            };
            if NOT_IN_FILE.iter().any(|(n, _)| *n == long) {
                continue;
            }
            if let Some(known) = out.iter_mut().find(|o| o.long == long) {
                known.subcommands.push(name.clone());
                continue;
            }
            let kind = match arg.get_action() {
                ArgAction::SetTrue | ArgAction::SetFalse | ArgAction::Count => Kind::Flag,
                ArgAction::Append => Kind::Repeated,
                _ => Kind::Single,
            };
            let values: Vec<String> = arg
                .get_possible_values()
                .iter()
                .map(|v| v.get_name().to_string())
                .collect();
            out.push(Opt {
                long: long.to_string(),
                short: arg.get_short(),
                kind,
                on_off: values == ["on", "off"],
                required: arg.is_required_set(),
                table: table_of(arg.get_help_heading()),
                subcommands: vec![name.clone()],
            });
        }
    }
    out
}

/// The table of a `--help` heading ([`TABLES`]; an unlisted heading: its first word).
fn table_of(heading: Option<&str>) -> String {
    let heading = heading.unwrap_or("Options");
    TABLES
        .iter()
        .find(|(h, _)| *h == heading)
        .map(|(_, t)| (*t).to_string())
        .unwrap_or_else(|| {
            heading
                .split_whitespace()
                .next()
                .unwrap_or("options")
                .to_ascii_lowercase()
        })
}

/// One key of the file, mapped to its option.
#[derive(Clone, Debug)]
struct Setting {
    /// Index into the option list.
    opt: usize,
    /// 1-based line of the key.
    line: usize,
    /// The setting as written (`idle_timeout = 0`), for messages.
    text: String,
    /// Each value with its line (an element of a list may sit on its own line); empty for a
    /// flag set to `false`.
    values: Vec<(String, usize)>,
}

impl Setting {
    /// The arguments it stands for: `--long` for a flag, else `--long=VALUE` per value.
    fn args(&self, opt: &Opt) -> Vec<OsString> {
        if opt.kind == Kind::Flag {
            return if self.values.is_empty() {
                Vec::new()
            } else {
                vec![OsString::from(format!("--{}", opt.long))]
            };
        }
        self.values
            .iter()
            .map(|(v, _)| OsString::from(format!("--{}={v}", opt.long)))
            .collect()
    }
}

/// A parsed file: its settings, and the problems found while mapping keys to options.
#[derive(Debug)]
struct FileConfig {
    path: PathBuf,
    settings: Vec<Setting>,
    errors: Vec<Error>,
}

/// One key/value (or key/table) of a table or inline table.
enum Node<'a> {
    Value(&'a Value),
    Table(Vec<Entry<'a>>),
    TableArray,
}

/// A key, where it is, and what it holds.
struct Entry<'a> {
    key: &'a str,
    span: Option<Range<usize>>,
    node: Node<'a>,
}

fn table_entries(t: &Table) -> Vec<Entry<'_>> {
    t.iter()
        .map(|(key, item)| Entry {
            key,
            span: t.key(key).and_then(toml_edit::Key::span),
            node: match item {
                Item::Value(Value::InlineTable(it)) => Node::Table(inline_entries(it)),
                Item::Value(v) => Node::Value(v),
                Item::Table(t) => Node::Table(table_entries(t)),
                Item::ArrayOfTables(_) | Item::None => Node::TableArray,
            },
        })
        .collect()
}

fn inline_entries(t: &InlineTable) -> Vec<Entry<'_>> {
    t.iter()
        .map(|(key, value)| Entry {
            key,
            span: t.key(key).and_then(toml_edit::Key::span),
            node: match value {
                Value::InlineTable(it) => Node::Table(inline_entries(it)),
                v => Node::Value(v),
            },
        })
        .collect()
}

/// Reads `path` into settings (for any subcommand that reads config files).
///
/// # Errors
///
/// The file cannot be read or is not TOML; other problems are in [`FileConfig::errors`].
fn load(path: &Path, opts: &[Opt]) -> Result<FileConfig, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::ConfigIo {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &text, opts)
}

/// [`load`] on text already read.
fn parse(path: &Path, text: &str, opts: &[Opt]) -> Result<FileConfig, Error> {
    let doc = Document::parse(text).map_err(|e| {
        let at = e.span().map_or(0, |s| s.start);
        Error::Config {
            path: path.to_path_buf(),
            line: line_of(text, at),
            setting: text
                .lines()
                .nth(line_of(text, at) - 1)
                .unwrap_or("")
                .trim()
                .to_string(),
            reason: format!("not valid TOML: {}", e.message().trim()),
        }
    })?;
    let mut file = FileConfig {
        path: path.to_path_buf(),
        settings: Vec::new(),
        errors: Vec::new(),
    };
    let mut reader = Reader {
        text,
        opts,
        file: &mut file,
    };
    for entry in table_entries(doc.as_table()) {
        match entry.node {
            Node::Table(entries) => reader.table(entry.key, entry.span, entries),
            Node::Value(v) => reader.setting(None, entry.key, entry.span, v),
            Node::TableArray => reader.error(
                entry.span,
                &format!("[[{}]]", entry.key),
                "arrays of tables are not used; write lists as `key = [\"a\", \"b\"]`".into(),
            ),
        }
    }
    file.errors.sort_by_key(line_key);
    Ok(file)
}

/// Maps a document's keys to settings.
struct Reader<'a> {
    text: &'a str,
    opts: &'a [Opt],
    file: &'a mut FileConfig,
}

impl Reader<'_> {
    fn error(&mut self, span: Option<Range<usize>>, setting: &str, reason: String) {
        let line = line_of(self.text, span.map_or(0, |s| s.start));
        self.file.errors.push(Error::Config {
            path: self.file.path.clone(),
            line,
            setting: setting.to_string(),
            reason,
        });
    }

    /// `[name]` (or `name = { .. }`, or dotted keys `name.key = ..`).
    fn table(&mut self, name: &str, span: Option<Range<usize>>, entries: Vec<Entry<'_>>) {
        if !TABLES.iter().any(|(_, t)| *t == name) {
            let norm = name.replace('_', "-");
            let reason = match self.opts.iter().find(|o| o.long == norm) {
                Some(o) => format!(
                    "`{name}` is an option, not a table: write `{} = ...` in [{}]",
                    o.key(),
                    o.table
                ),
                None => {
                    let best = TABLES
                        .iter()
                        .map(|(_, t)| (strsim::levenshtein(name, t), *t))
                        .min()
                        .filter(|(d, _)| *d <= 2)
                        .map(|(_, t)| format!("did you mean [{t}]? "))
                        .unwrap_or_default();
                    format!("unknown table; {best}the tables are {}", table_list())
                }
            };
            self.error(span, &format!("[{name}]"), reason);
            return;
        }
        for entry in entries {
            match entry.node {
                Node::Value(v) => self.setting(Some(name), entry.key, entry.span, v),
                Node::Table(_) | Node::TableArray => self.error(
                    entry.span,
                    &format!("[{name}.{}]", entry.key),
                    format!("tables do not nest: write the keys of [{name}] directly in it"),
                ),
            }
        }
    }

    /// `key = value`, in `table` or at the top level.
    fn setting(&mut self, table: Option<&str>, key: &str, span: Option<Range<usize>>, v: &Value) {
        let text = self.excerpt(key, span.clone(), v);
        let norm = key.replace('_', "-");
        if let Some((_, why)) = NOT_IN_FILE.iter().find(|(n, _)| *n == norm) {
            self.error(span, &text, format!("not a setting: {why}"));
            return;
        }
        let Some(i) = self.opts.iter().position(|o| o.long == norm) else {
            let reason = unknown_key(key, table, self.opts);
            self.error(span, &text, reason);
            return;
        };
        let opt = &self.opts[i];
        if let Some(t) = table
            && opt.table != t
        {
            let reason = format!(
                "`{key}` belongs in [{}], not [{t}]: move it there",
                opt.table
            );
            self.error(span, &text, reason);
            return;
        }
        let line = line_of(self.text, span.as_ref().map_or(0, |s| s.start));
        if let Some(first) = self.file.settings.iter().find(|s| s.opt == i) {
            let reason = format!(
                "`{}` is set twice (also on line {}): keep one",
                opt.key(),
                first.line
            );
            self.error(span, &text, reason);
            return;
        }
        match self.values(opt, v) {
            Ok(values) => self.file.settings.push(Setting {
                opt: i,
                line,
                text,
                values,
            }),
            Err(reason) => self.error(span, &text, reason),
        }
    }

    /// The values of `v` for `opt`, with their lines, or what is wrong with its type.
    fn values(&self, opt: &Opt, v: &Value) -> Result<Vec<(String, usize)>, String> {
        let key = opt.key();
        let line = |v: &Value| line_of(self.text, v.span().map_or(0, |s| s.start));
        let scalar = |v: &Value| match v {
            Value::String(s) => Some(s.value().clone()),
            Value::Integer(n) => Some(n.value().to_string()),
            Value::Boolean(b) if opt.on_off => Some(if *b.value() { "on" } else { "off" }.into()),
            _ => None,
        };
        match (opt.kind, v) {
            (Kind::Flag, Value::Boolean(b)) => Ok(if *b.value() {
                vec![("true".into(), line(v))]
            } else {
                Vec::new()
            }),
            (Kind::Flag, _) => Err(format!(
                "`{key}` is a switch: write `{key} = true` or `{key} = false`"
            )),
            (Kind::Single, Value::Array(_)) => Err(format!(
                "`{key}` takes one value, not a list: write e.g. `{key} = {}`",
                example(opt)
            )),
            (Kind::Repeated, Value::Array(a)) => a
                .iter()
                .map(|e| scalar(e).map(|s| (s, line(e))))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    format!("`{key}` takes a list of strings: write e.g. `{key} = [\"...\"]`")
                }),
            (_, v) => scalar(v).map(|s| vec![(s, line(v))]).ok_or_else(|| {
                format!(
                    "`{key}` takes {}, not {}: write e.g. `{key} = {}`",
                    if opt.on_off {
                        "`on`/`off` (or true/false)"
                    } else {
                        "a string or a number"
                    },
                    v.type_name(),
                    example(opt)
                )
            }),
        }
    }

    /// `key = value` as written when it fits on one line, else the key and the value's
    /// first line.
    fn excerpt(&self, key: &str, span: Option<Range<usize>>, v: &Value) -> String {
        let value = v.span().and_then(|s| self.text.get(s)).unwrap_or("...");
        if let Some(k) = span
            && let Some(vs) = v.span()
            && let Some(all) = self.text.get(k.start..vs.end)
            && !all.contains('\n')
            && all.len() <= 100
        {
            return all.to_string();
        }
        let first = value.lines().next().unwrap_or("");
        let more = if value.contains('\n') { " ..." } else { "" };
        format!("{key} = {first}{more}")
    }
}

/// A value of the right shape for `opt`, for messages.
fn example(opt: &Opt) -> &'static str {
    if opt.on_off { "\"on\"" } else { "\"...\"" }
}

/// `[capture], [flow], ...`.
fn table_list() -> String {
    TABLES
        .iter()
        .map(|(_, t)| format!("[{t}]"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An unknown key: the closest option (and its table), or where the keys are listed.
fn unknown_key(key: &str, table: Option<&str>, opts: &[Opt]) -> String {
    let norm = key.replace('_', "-").to_ascii_lowercase();
    // `[nmsg] zlib` for `nmsg_zlib`; else the smallest edit distance, if it is small.
    let prefixed = table.and_then(|t| {
        let want = format!("{t}-{norm}");
        opts.iter().find(|o| o.long == want)
    });
    let closest = prefixed.or_else(|| {
        opts.iter()
            .map(|o| (strsim::levenshtein(&norm, &o.long), o))
            .filter(|(d, o)| *d <= (o.long.len() / 3).max(2))
            .min_by_key(|(d, _)| *d)
            .map(|(_, o)| o)
    });
    match closest {
        Some(o) => format!(
            "unknown key `{key}`; did you mean `{}` (in [{}])?",
            o.key(),
            o.table
        ),
        None => format!(
            "unknown key `{key}`; the keys are the long options of `xdpflow run --help` \
             (with `_` or `-`) in the tables {}",
            table_list()
        ),
    }
}

/// The 1-based line of byte `at`.
fn line_of(text: &str, at: usize) -> usize {
    text.get(..at).map_or(0, |t| t.matches('\n').count()) + 1
}

/// Sort key: errors with a line by line, the others last.
fn line_key(e: &Error) -> usize {
    match e {
        Error::Config { line, .. } => *line,
        _ => usize::MAX,
    }
}

/// The command line with the settings of the `--config` file (if any) merged in, ready for
/// clap: the file's settings first, so options given on the command line override them.
///
/// Settings the subcommand does not have but another one does (the `[capture]` keys, given
/// to `xdpflow pcap`) are skipped with a warning, so one file serves both.
///
/// # Errors
///
/// The file cannot be read, or a key or value in it is invalid (naming the key and line); all
/// problems at once ([`Error::ConfigErrors`]) when there are several.
pub fn args_with_config(args: Vec<OsString>) -> Result<Vec<OsString>, Error> {
    let Some(sub) = args.get(1).and_then(|s| s.to_str()).map(str::to_string) else {
        return Ok(args);
    };
    let opts = options();
    if !opts.iter().any(|o| o.subcommands.contains(&sub)) {
        return Ok(args);
    }
    let ours: Vec<&Opt> = opts
        .iter()
        .filter(|o| o.subcommands.contains(&sub))
        .collect();
    let (config, given) = scan(&args[2..], &ours);
    let Some(path) = config else {
        return Ok(args);
    };
    let mut file = load(Path::new(&path), &opts)?;
    let mut skipped = Vec::new();
    file.settings.retain(|s| {
        let o = &opts[s.opt];
        if !o.subcommands.contains(&sub) {
            skipped.push(o.key());
            return false;
        }
        !given.contains(&o.long)
    });
    if !skipped.is_empty() {
        tracing::warn!(
            message = "Config file settings that this subcommand does not have are ignored.",
            subcommand = %sub,
            keys = %skipped.join(", "),
        );
    }
    let errors = std::mem::take(&mut file.errors)
        .into_iter()
        .chain(validate(&file, &opts, &sub))
        .collect();
    into_result(&file.path, errors)?;
    let mut out = Vec::with_capacity(args.len() + 2 * file.settings.len());
    out.extend_from_slice(&args[..2]);
    for s in &file.settings {
        out.extend(s.args(&opts[s.opt]));
    }
    out.extend_from_slice(&args[2..]);
    Ok(out)
}

/// The `--config` file (the last one given) and the options given on the command line `rest`
/// (after the subcommand), found the way clap reads them: `--long VALUE`, `--long=VALUE`,
/// `-s VALUE`, `-sVALUE`, flag clusters `-qs VALUE`; nothing after `--`.
fn scan(rest: &[OsString], opts: &[&Opt]) -> (Option<OsString>, HashSet<String>) {
    let mut config = None;
    let mut given = HashSet::new();
    let mut i = 0;
    while i < rest.len() {
        let token = rest[i].to_str().unwrap_or("");
        i += 1;
        if token == "--" {
            break;
        }
        if let Some(long) = token.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, _)) => (n, true),
                None => (long, false),
            };
            if name == "config" {
                if inline {
                    config = long.split_once('=').map(|(_, v)| OsString::from(v));
                } else if let Some(v) = rest.get(i) {
                    config = Some(v.clone());
                    i += 1;
                }
            } else if let Some(o) = opts.iter().find(|o| o.long == name) {
                given.insert(o.long.clone());
                if o.kind != Kind::Flag && !inline {
                    i += 1;
                }
            }
        } else if let Some(shorts) = token.strip_prefix('-') {
            for (at, c) in shorts.char_indices() {
                let Some(o) = opts.iter().find(|o| o.short == Some(c)) else {
                    break;
                };
                given.insert(o.long.clone());
                if o.kind != Kind::Flag {
                    if at + c.len_utf8() == shorts.len() {
                        i += 1; // the value is the next argument
                    }
                    break;
                }
            }
        }
    }
    (config, given)
}

/// Validates `file` as `xdpflow run --config FILE` would read it (or, for a file without any
/// capture setting, as `xdpflow pcap --config FILE` would). Nothing is opened, bound or
/// created; destination host names are resolved.
///
/// # Errors
///
/// Every problem found, each naming the key, its line and the fix: one [`Error::Config`], or
/// [`Error::ConfigErrors`] listing them all.
pub fn check(file: &Path) -> Result<(), Error> {
    let opts = options();
    let mut parsed = load(file, &opts)?;
    let pcap_only = parsed
        .settings
        .iter()
        .all(|s| opts[s.opt].subcommands.iter().any(|c| c == "pcap"));
    let sub = if pcap_only { "pcap" } else { "run" };
    if pcap_only {
        tracing::info!(
            message = "No capture settings: checked as for `xdpflow pcap`; `xdpflow run` \
                       also needs `iface` (in [capture], or -i on the command line).",
        );
    }
    let errors = std::mem::take(&mut parsed.errors)
        .into_iter()
        .chain(validate(&parsed, &opts, sub))
        .collect();
    into_result(&parsed.path, errors)
}

/// No error, one, or [`Error::ConfigErrors`], in line order.
fn into_result(path: &Path, mut errors: Vec<Error>) -> Result<(), Error> {
    errors.sort_by_key(line_key);
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.remove(0)),
        _ => Err(Error::ConfigErrors {
            path: path.to_path_buf(),
            errors,
        }),
    }
}

/// Runs `file`'s settings through clap and the subcommand's validated conversions, as
/// `xdpflow SUB` would; each error names the setting's line.
fn validate(file: &FileConfig, opts: &[Opt], sub: &str) -> Vec<Error> {
    let at = |s: &Setting, line: usize, reason: String| Error::Config {
        path: file.path.clone(),
        line,
        setting: s.text.clone(),
        reason,
    };
    let mut errors = Vec::new();
    // Required options the file leaves to the command line get a stand-in value.
    let stand_ins = |except: &[usize]| {
        opts.iter()
            .enumerate()
            .filter(|(i, o)| {
                o.required && o.subcommands.iter().any(|c| c == sub) && !except.contains(i)
            })
            .map(|(_, o)| OsString::from(format!("--{}=x", o.long)))
            .collect::<Vec<_>>()
    };
    let clap = |settings: &[&Setting]| {
        let set: Vec<usize> = settings.iter().map(|s| s.opt).collect();
        let mut args = vec![OsString::from("xdpflow"), OsString::from(sub)];
        args.extend(stand_ins(&set));
        for s in settings {
            args.extend(s.args(&opts[s.opt]));
        }
        Cli::try_parse_from(args)
    };
    // Each setting alone: its type and value, as clap parses it.
    let mut good = Vec::new();
    for s in &file.settings {
        match clap(&[s]) {
            Ok(_) => good.push(s),
            Err(e) => errors.push(at(s, s.line, clap_reason(&e))),
        }
    }
    // Together: the conversions the subcommand runs before it starts.
    let cli = match clap(&good) {
        Ok(cli) => cli,
        Err(e) => {
            errors.push(Error::ConfigFile {
                path: file.path.clone(),
                reason: clap_reason(&e),
            });
            return errors;
        }
    };
    let mut found = Vec::new();
    match &cli.command {
        Command::Pcap(p) => {
            found.push(p.flow.to_config().err());
            found.push(p.output.stage_config().err());
            found.extend(sinks(&p.output).into_iter().map(Some));
            found.push(metrics(p.ops.metrics.as_deref()));
        }
        Command::Run(r) => {
            found.push(r.flow.to_config().err());
            found.push(r.output.stage_config().err());
            found.extend(sinks(&r.output).into_iter().map(Some));
            found.extend(live(file, opts, &r.capture, r.flow.workers.is_some()));
            found.push(metrics(r.ops.metrics.as_deref()));
        }
        Command::CheckConfig(_) => {}
    }
    for e in found.into_iter().flatten() {
        errors.push(locate(file, opts, e, &at));
    }
    errors
}

/// The sink destinations, parsed as `open_sinks` parses them (nothing is opened).
fn sinks(o: &OutputArgs) -> Vec<Error> {
    use crate::export::json::JsonTarget;
    use crate::export::nmsg::NmsgTarget;
    use crate::export::unirec::TrapTarget;
    let json = o.json.iter().map(|s| JsonTarget::parse(s).err());
    let nmsg = o.nmsg.targets.iter().map(|s| NmsgTarget::parse(s).err());
    let trap = o
        .trap
        .targets
        .iter()
        .map(|s| TrapTarget::parse(s, o.trap.bind).err());
    let redis = o
        .redis
        .url
        .iter()
        .map(|u| crate::export::events::redis::parse_url(u).err());
    json.chain(nmsg)
        .chain(trap)
        .chain(redis)
        .flatten()
        .collect()
}

/// `metrics`: `off` or `ADDR:PORT` with a numeric address, as `metrics::serve` reads it
/// (`parse_addr` in `metrics/server.rs`); binding it is left to the start.
fn metrics(spec: Option<&str>) -> Option<Error> {
    let spec = spec?;
    if spec == "off" || spec.trim().parse::<std::net::SocketAddr>().is_ok() {
        return None;
    }
    Some(Error::InvalidOption {
        option: "--metrics",
        reason: format!(
            "`{spec}` is not ADDR:PORT with a numeric address (e.g. `127.0.0.1:9617`, \
             `[::1]:9617`); use `off` to serve no metrics"
        ),
    })
}

/// What `xdpflow run` checks before it touches the kernel (see `live_config` in `main.rs`),
/// short of what needs the interface (its queue count).
fn live(file: &FileConfig, opts: &[Opt], c: &CaptureArgs, workers: bool) -> Vec<Option<Error>> {
    let invalid = |option: &'static str, reason: &str| {
        Some(Error::InvalidOption {
            option,
            reason: reason.into(),
        })
    };
    let mut found = Vec::new();
    if workers {
        found.push(invalid(
            "--workers",
            "live capture runs one worker per queue: choose them with `queues` in [capture] \
             (`workers` is for `xdpflow pcap`)",
        ));
    }
    let filters = ["allow", "deny", "protocols", "sample"];
    if c.capture == CaptureArg::AfPacket
        && (!c.allow.is_empty()
            || !c.deny.is_empty()
            || !c.protocols.is_empty()
            || c.sample.is_some())
    {
        // Point at `capture` when the file sets it, else at the first filter it sets.
        let setting = |long: &'static str| {
            file.settings
                .iter()
                .any(|s| opts[s.opt].long == long)
                .then_some(long)
        };
        let option = setting("capture")
            .or_else(|| filters.iter().copied().find_map(setting))
            .map_or("--capture", |l| match l {
                "allow" => "--allow",
                "deny" => "--deny",
                "protocols" => "--protocols",
                "sample" => "--sample",
                _ => "--capture",
            });
        found.push(invalid(
            option,
            "allow, deny, protocols and sample run in the XDP program: use them with \
             `capture = \"af-xdp\"`",
        ));
    }
    found.push(c.filter().err());
    // The queue list's syntax (the interface's queue count is checked at start), then the
    // CPU list: its syntax, and its length when the queues are listed.
    let queues = if c.queues.trim() == "all" {
        None
    } else {
        match c.queue_list(u32::MAX) {
            Ok(q) => Some(q.len()),
            Err(e) => {
                found.push(Some(e));
                return found;
            }
        }
    };
    if let Some(spec) = &c.cores {
        let n = queues.or_else(|| list_len(spec)).unwrap_or(1);
        let usable: Vec<usize> = (0..4096).collect();
        found.push(c.core_list(n, &usable).err());
    }
    found
}

/// How many numbers a well-formed list (`0-3,6`) names; `None` when it is malformed (then
/// [`CaptureArgs::core_list`] says why).
fn list_len(spec: &str) -> Option<usize> {
    spec.split(',').try_fold(0usize, |n, part| {
        let k = match part.trim().split_once('-') {
            Some((a, b)) => {
                let (a, b) = (
                    a.trim().parse::<usize>().ok()?,
                    b.trim().parse::<usize>().ok()?,
                );
                b.checked_sub(a)?.checked_add(1)?
            }
            None => part.trim().parse::<usize>().map(|_| 1).ok()?,
        };
        n.checked_add(k)
    })
}

/// Maps an error of a validated conversion to the setting it is about (and, for a sink
/// destination, to the line of that list element).
fn locate(
    file: &FileConfig,
    opts: &[Opt],
    e: Error,
    at: &dyn Fn(&Setting, usize, String) -> Error,
) -> Error {
    let find = |long: &str| file.settings.iter().find(|s| opts[s.opt].long == long);
    match &e {
        Error::InvalidOption { option, reason } => match find(option.trim_start_matches('-')) {
            Some(s) => at(s, s.line, reason.clone()),
            None => Error::ConfigFile {
                path: file.path.clone(),
                reason: e.to_string(),
            },
        },
        Error::SinkSpec { sink, spec, .. } => match find(sink) {
            Some(s) => {
                let line = s
                    .values
                    .iter()
                    .find(|(v, _)| v == spec)
                    .map_or(s.line, |(_, l)| *l);
                at(s, line, e.to_string())
            }
            None => Error::ConfigFile {
                path: file.path.clone(),
                reason: e.to_string(),
            },
        },
        _ => Error::ConfigFile {
            path: file.path.clone(),
            reason: e.to_string(),
        },
    }
}

/// clap's message without its usage and help lines.
fn clap_reason(e: &clap::Error) -> String {
    e.to_string()
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more information")
        })
        .map(|l| l.strip_prefix("error: ").unwrap_or(l))
        .map(|l| {
            l.strip_prefix('[')
                .and_then(|l| l.strip_suffix(']'))
                .unwrap_or(l)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATH: &str = "xdpflow.toml";

    fn parsed(text: &str) -> FileConfig {
        parse(Path::new(PATH), text, &options()).expect("TOML")
    }

    /// The arguments a file gives `sub`, or its errors as text, one per line.
    fn args(sub: &str, text: &str) -> Result<Vec<String>, String> {
        let opts = options();
        let file = parse(Path::new(PATH), text, &opts).map_err(|e| e.to_string())?;
        let mut errors: Vec<Error> = file.errors.into_iter().collect();
        let file = FileConfig {
            errors: Vec::new(),
            ..file
        };
        errors.extend(validate(&file, &opts, sub));
        into_result(Path::new(PATH), errors).map_err(|e| e.to_string())?;
        Ok(file
            .settings
            .iter()
            .flat_map(|s| s.args(&opts[s.opt]))
            .map(|a| a.into_string().unwrap())
            .collect())
    }

    fn err(sub: &str, text: &str) -> String {
        args(sub, text).expect_err("an error")
    }

    /// A scratch file holding `text`.
    fn scratch(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xdpflow-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    fn strings(args: Vec<OsString>) -> Vec<String> {
        args.into_iter().map(|a| a.into_string().unwrap()).collect()
    }

    #[test]
    fn every_help_heading_has_a_table() {
        let cmd = Cli::command();
        for sub in cmd.get_subcommands() {
            for arg in sub.get_arguments().filter(|a| a.get_long().is_some()) {
                let heading = arg.get_help_heading().unwrap_or("(none)");
                assert!(
                    TABLES.iter().any(|(h, _)| *h == heading),
                    "--{} of `{}` has heading {heading:?}: add it to TABLES",
                    arg.get_long().unwrap(),
                    sub.get_name()
                );
            }
        }
        // Spot checks of the mapping.
        let opts = options();
        let table = |long: &str| opts.iter().find(|o| o.long == long).unwrap().table.clone();
        assert_eq!(table("iface"), "capture");
        assert_eq!(table("idle-timeout"), "flow");
        assert_eq!(table("json"), "output");
        assert_eq!(table("nmsg-zlib"), "nmsg");
        assert_eq!(table("trap-bind"), "trap");
        assert_eq!(table("metrics"), "operations");
    }

    #[test]
    fn keys_are_long_options_with_underscores_or_dashes() {
        let got = args(
            "pcap",
            "idle_timeout = 15\n\
             active-timeout = 60\n\
             [output]\n\
             flush_interval_ms = 250\n",
        )
        .unwrap();
        assert_eq!(
            got,
            [
                "--idle-timeout=15",
                "--active-timeout=60",
                "--flush-interval-ms=250"
            ]
        );
    }

    #[test]
    fn tables_inline_tables_and_dotted_keys_group_options() {
        let got = args(
            "run",
            "flow.tcp_end = \"off\"\n\
             operations = { metrics = \"off\" }\n\
             [capture]\n\
             iface = \"eth1\"\n\
             queues = \"0-3\"\n\
             [nmsg]\n\
             nmsg_zlib = true\n",
        )
        .unwrap();
        assert_eq!(
            got,
            [
                "--tcp-end=off",
                "--metrics=off",
                "--iface=eth1",
                "--queues=0-3",
                "--nmsg-zlib"
            ]
        );
    }

    #[test]
    fn flags_and_on_off_options_take_booleans() {
        let got = args(
            "pcap",
            "stats = true\nquiet = false\ntcp_end = false\ndecode_tunnels = true\n",
        )
        .unwrap();
        assert_eq!(got, ["--stats", "--tcp-end=off", "--decode-tunnels=on"]);
        let e = err("pcap", "stats = \"yes\"\n");
        assert!(
            e.contains("line 1: `stats = \"yes\"`: `stats` is a switch"),
            "{e}"
        );
        let e = err("pcap", "idle_timeout = true\n");
        assert!(e.contains("takes a string or a number, not boolean"), "{e}");
    }

    #[test]
    fn repeatable_options_take_lists_or_one_value() {
        let got = args(
            "run",
            "[capture]\n\
             iface = \"eth1\"\n\
             allow = [\"198.18.0.0/15\", \"2001:db8::/32\"]\n\
             protocols = \"tcp,udp\"\n\
             [output]\n\
             json = \"/tmp/a.ndjson\"\n",
        )
        .unwrap();
        assert_eq!(
            got,
            [
                "--iface=eth1",
                "--allow=198.18.0.0/15",
                "--allow=2001:db8::/32",
                "--protocols=tcp,udp",
                "--json=/tmp/a.ndjson"
            ]
        );
        assert_eq!(
            args("run", "protocols = [\"tcp\", 47]\n").unwrap(),
            ["--protocols=tcp", "--protocols=47"]
        );
        let e = err("pcap", "idle_timeout = [1, 2]\n");
        assert!(e.contains("takes one value, not a list"), "{e}");
        let e = err("pcap", "json = [1.5]\n");
        assert!(e.contains("takes a list of strings"), "{e}");
    }

    #[test]
    fn unknown_keys_name_the_line_and_the_closest_key() {
        let e = err("pcap", "# comment\n\n[flow]\nidle_timout = 30\n");
        assert_eq!(
            e,
            "xdpflow.toml line 4: `idle_timout = 30`: unknown key `idle_timout`; did you mean \
             `idle_timeout` (in [flow])?"
        );
        let e = err("pcap", "[nmsg]\nzlib = true\n");
        assert!(e.contains("did you mean `nmsg_zlib` (in [nmsg])?"), "{e}");
        let e = err("pcap", "frobnicate = 1\n");
        assert!(
            e.contains("unknown key `frobnicate`; the keys are the long options"),
            "{e}"
        );
        let e = err("pcap", "[flwo]\nidle_timeout = 3\n");
        assert!(
            e.contains("line 1: `[flwo]`: unknown table; did you mean [flow]?"),
            "{e}"
        );
        let e = err("pcap", "[json]\n");
        assert!(e.contains("`json` is an option, not a table"), "{e}");
        for key in ["config", "help", "version"] {
            let e = err("pcap", &format!("{key} = \"x\"\n"));
            assert!(e.contains("not a setting"), "{e}");
        }
    }

    #[test]
    fn a_key_in_the_wrong_table_says_where_it_belongs() {
        let e = err("run", "[flow]\niface = \"eth1\"\n");
        assert_eq!(
            e,
            "xdpflow.toml line 2: `iface = \"eth1\"`: `iface` belongs in [capture], not \
             [flow]: move it there"
        );
        let e = err("pcap", "idle_timeout = 5\n[flow]\nidle-timeout = 6\n");
        assert!(
            e.contains("line 3") && e.contains("set twice (also on line 1)"),
            "{e}"
        );
        let e = err("pcap", "[flow.extra]\nx = 1\n");
        assert!(e.contains("tables do not nest"), "{e}");
    }

    #[test]
    fn bad_values_name_the_line_and_the_check_that_failed() {
        let e = err("pcap", "\n\n[flow]\nidle_timeout = 0\n");
        assert_eq!(
            e,
            "xdpflow.toml line 4: `idle_timeout = 0`: must be at least 1 second"
        );
        let e = err("pcap", "[flow]\ntcp_end = \"maybe\"\n");
        assert!(
            e.starts_with("xdpflow.toml line 2: `tcp_end = \"maybe\"`: invalid value 'maybe'"),
            "{e}"
        );
        assert!(e.contains("possible values: on, off"), "{e}");
        let e = err("pcap", "idle_timeout = -5\n");
        assert!(
            e.contains("line 1") && e.contains("invalid value '-5'"),
            "{e}"
        );
        let e = err("run", "[capture]\nframes = 99999999999\n");
        assert!(e.contains("line 2") && e.contains("frames"), "{e}");
        let e = err("pcap", "[output]\nflush_records = 0\n");
        assert!(
            e.contains("line 2: `flush_records = 0`: must be at least 1"),
            "{e}"
        );
        let e = err("pcap", "[flow]\nworkers = 4\nmax_flows = 2\n");
        assert!(
            e.contains("line 3: `max_flows = 2`: 2 is less than one flow"),
            "{e}"
        );
    }

    #[test]
    fn capture_values_are_checked_without_the_interface() {
        let e = err(
            "run",
            "[capture]\nallow = [\n  \"10.0.0.0/8\",\n  \"10.0.0.0/33\",\n]\n",
        );
        assert!(
            e.contains("line 2: `allow = [ ...`") && e.contains("10.0.0.0/33"),
            "{e}"
        );
        let e = err("run", "[capture]\nqueues = \"0-x\"\n");
        assert!(e.contains("line 2") && e.contains("is not a list"), "{e}");
        let e = err("run", "[capture]\nqueues = \"0-1\"\ncores = \"2-5\"\n");
        assert!(
            e.contains("line 3") && e.contains("4 CPU(s) for 2 worker(s)"),
            "{e}"
        );
        let e = err("run", "[capture]\ncores = \"a\"\n");
        assert!(e.contains("line 2") && e.contains("is not a list"), "{e}");
        assert!(args("run", "[capture]\ncores = \"2-5\"\n").is_ok());
        let e = err("run", "[capture]\nsample = 0\n");
        assert!(
            e.contains("line 2: `sample = 0`: must be at least 1"),
            "{e}"
        );
        let e = err(
            "run",
            "[capture]\ncapture = \"af-packet\"\ndeny = [\"10.0.0.0/8\"]\n",
        );
        assert!(
            e.contains("line 2: `capture = \"af-packet\"`") && e.contains("XDP"),
            "{e}"
        );
        let e = err("run", "[flow]\nworkers = 2\n");
        assert!(
            e.contains("line 2") && e.contains("one worker per queue"),
            "{e}"
        );
        assert!(args("pcap", "[flow]\nworkers = 2\n").is_ok());
    }

    #[test]
    fn sink_destinations_are_parsed_and_point_at_their_element() {
        let e = err(
            "pcap",
            "[output]\njson = [\n  \"/tmp/ok.ndjson\",\n  \"tcp:collector\",\n]\n",
        );
        assert!(e.contains("line 4") && e.contains("`tcp:collector`"), "{e}");
        let e = err("pcap", "[nmsg]\nnmsg = [\"udp:127.0.0.1\"]\n");
        assert!(
            e.contains("line 2") && e.contains("the port is missing"),
            "{e}"
        );
        let e = err("pcap", "[operations]\nmetrics = \"localhost:9617\"\n");
        assert!(e.contains("line 2") && e.contains("numeric address"), "{e}");
        assert!(args("pcap", "metrics = \"off\"\n").is_ok());
        assert!(args("run", "metrics = \"[::1]:9617\"\n").is_ok());
        let e = err("pcap", "\n[redis]\nredis = \"rediss://h:1\"\n");
        assert!(
            e.contains("line 3") && e.contains("TLS is not supported"),
            "{e}"
        );
        let e = err("pcap", "[trap]\ntrap = \"x:1\"\n");
        assert!(e.contains("line 2") && e.contains("`x:1`"), "{e}");
    }

    #[test]
    fn every_error_is_reported_in_line_order() {
        let e = err(
            "pcap",
            "[flow]\nidle_timeout = 0\nidle_timout = 1\n[output]\nflush_records = 0\n",
        );
        let lines: Vec<&str> = e.lines().collect();
        assert_eq!(lines[0], "xdpflow.toml has 3 errors:", "{e}");
        assert!(lines[1].starts_with("xdpflow.toml line 2:"), "{e}");
        assert!(lines[2].starts_with("xdpflow.toml line 3:"), "{e}");
        assert!(lines[3].starts_with("xdpflow.toml line 5:"), "{e}");
    }

    #[test]
    fn toml_syntax_errors_name_the_line() {
        let e = parse(Path::new(PATH), "[flow]\nidle_timeout = \n", &options()).unwrap_err();
        let e = e.to_string();
        assert!(
            e.starts_with("xdpflow.toml line 2: `idle_timeout =`: not valid TOML"),
            "{e}"
        );
    }

    #[test]
    fn the_command_line_overrides_the_file() {
        let path = scratch(
            "override.toml",
            "[flow]\nidle_timeout = 30\nstats = true\n[output]\njson = [\"/a\", \"/b\"]\n",
        );
        let p = path.to_str().unwrap();
        // File settings go right after the subcommand; the command line follows.
        let got =
            strings(args_with_config(os(&["xdpflow", "pcap", "--config", p, "x.pcap"])).unwrap());
        assert_eq!(
            got,
            [
                "xdpflow",
                "pcap",
                "--idle-timeout=30",
                "--stats",
                "--json=/a",
                "--json=/b",
                "--config",
                p,
                "x.pcap"
            ]
        );
        // Given on the command line (any spelling): the file's setting is dropped, lists too.
        let cli = ["xdpflow", "pcap", "--idle-timeout", "5", "--stats"];
        let got = strings(
            args_with_config(os(
                &[&cli[..], &[&format!("--config={p}"), "--json=-"]].concat()
            ))
            .unwrap(),
        );
        assert_eq!(
            got,
            [&cli[..], &[&format!("--config={p}"), "--json=-"]].concat()
        );
        let parsed = Cli::try_parse_from(got).unwrap();
        let Command::Pcap(a) = parsed.command else {
            unreachable!("pcap")
        };
        assert_eq!((a.flow.idle_timeout, a.output.json), (5, vec!["-".into()]));
        // `-q` and `-i VALUE` as short options; nothing after `--` counts.
        let run = scratch("run.toml", "[capture]\niface = \"eth1\"\nqueues = \"0\"\n");
        let r = run.to_str().unwrap();
        let got = strings(
            args_with_config(os(&["xdpflow", "run", "-qi", "eth2", "--config", r])).unwrap(),
        );
        assert_eq!(
            got,
            ["xdpflow", "run", "--queues=0", "-qi", "eth2", "--config", r]
        );
        let got = strings(
            args_with_config(os(&["xdpflow", "pcap", "--config", p, "--", "--stats"])).unwrap(),
        );
        assert!(got.contains(&"--idle-timeout=30".to_string()), "{got:?}");
    }

    #[test]
    fn without_config_the_arguments_are_untouched() {
        for a in [
            &["xdpflow"][..],
            &["xdpflow", "pcap", "x.pcap"],
            &["xdpflow", "check-config", "f.toml"],
            &["xdpflow", "pcap", "--json", "--config"],
        ] {
            assert_eq!(strings(args_with_config(os(a)).unwrap()), a);
        }
    }

    #[test]
    fn pcap_skips_capture_settings_and_run_errors_name_the_file() {
        let path = scratch(
            "both.toml",
            "[capture]\niface = \"eth1\"\n[flow]\nsplt = 4\n",
        );
        let p = path.to_str().unwrap();
        let got = strings(args_with_config(os(&["xdpflow", "pcap", "--config", p])).unwrap());
        assert_eq!(got, ["xdpflow", "pcap", "--splt=4", "--config", p]);
        let bad = scratch("bad.toml", "[flow]\nsplt = 5000\n");
        let e = args_with_config(os(&["xdpflow", "run", "--config", bad.to_str().unwrap()]))
            .unwrap_err()
            .to_string();
        assert!(e.ends_with("bad.toml line 2: `splt = 5000`: 5000 is too many; use 0 to 1024"));
        // Overridden on the command line: the file's bad value is never used, so no error.
        assert!(
            args_with_config(os(&[
                "xdpflow",
                "pcap",
                "--splt",
                "3",
                "--config",
                &bad.display().to_string()
            ]))
            .is_ok()
        );
        let e =
            args_with_config(os(&["xdpflow", "run", "--config", "/nonexistent.toml"])).unwrap_err();
        assert!(matches!(e, Error::ConfigIo { .. }), "{e}");
    }

    #[test]
    fn check_validates_as_run_or_as_pcap() {
        assert!(check(&scratch("pcap.toml", "[flow]\nworkers = 2\n")).is_ok());
        let e = check(&scratch(
            "run.toml",
            "[capture]\niface = \"eth1\"\n[flow]\nworkers = 2\n",
        ))
        .unwrap_err();
        assert!(e.to_string().contains("line 4"), "{e}");
    }

    proptest::proptest! {
        #[test]
        fn any_text_is_read_or_refused_without_panicking(text in "\\PC{0,300}") {
            let _ = parse(Path::new(PATH), &text, &options());
        }

        #[test]
        fn any_setting_is_mapped_or_refused_without_panicking(
            key in proptest::sample::select(
                options().iter().map(Opt::key).collect::<Vec<_>>()
            ),
            value in proptest::prop_oneof![
                "-?[0-9]{1,20}",
                "\"[ -!#-\\[\\]-~]{0,16}\"",
                "true|false",
                "\\[(\"[a-z0-9./:-]{0,12}\", ?){0,3}\\]",
                "[0-9]\\.[0-9]",
            ],
            table in "(capture|flow|output|nmsg|trap|operations|)",
        ) {
            let text = if table.is_empty() {
                format!("{key} = {value}\n")
            } else {
                format!("[{table}]\n{key} = {value}\n")
            };
            let opts = options();
            if let Ok(file) = parse(Path::new(PATH), &text, &opts) {
                for sub in ["run", "pcap"] {
                    let _ = validate(&file, &opts, sub);
                }
            }
        }
    }

    #[test]
    fn the_deployed_example_is_valid_and_so_are_its_commented_settings() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/xdpflow.toml");
        check(&path).unwrap_or_else(|e| panic!("{e}"));
        let text = std::fs::read_to_string(&path).unwrap();
        for (_, table) in TABLES {
            assert!(
                text.lines().any(|l| l == format!("[{table}]")),
                "deploy/xdpflow.toml has no [{table}]"
            );
        }
        // `# key = value` lines are examples: with all of them uncommented the file is still
        // valid (and then sets something in every table).
        let opts = options();
        let uncommented: String = text
            .lines()
            .map(|l| {
                let body = l.strip_prefix("# ").unwrap_or(l);
                let key = body.split(" = ").next().unwrap_or("");
                if body != l && opts.iter().any(|o| o.key() == key) {
                    format!("{body}\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        let path = scratch("uncommented.toml", &uncommented);
        check(&path).unwrap_or_else(|e| panic!("{e}\n{uncommented}"));
        let file = parsed(&uncommented);
        for (_, table) in TABLES {
            assert!(
                file.settings.iter().any(|s| opts[s.opt].table == *table),
                "no example in [{table}]"
            );
        }
    }
}
