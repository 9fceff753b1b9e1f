//! Server-name patterns, matched the way nDPI's host lists are: one Aho-Corasick automaton
//! over every pattern, built when the table is loaded, searched once per name.
//!
//! A pattern is either *closed* (`googlevideo.com`: the name itself or any name under it, so
//! the match must end the name and start it or follow a `.`) or *open* (ends with `.` or `-`:
//! `netflix.` or `igcdn-photos-`, which must start the name or follow a `.` and may end
//! anywhere). Among the patterns that match, the longest wins, separately for the application
//! and for the category a pattern may carry. Matching is ASCII case-insensitive and allocates
//! nothing.
//!
//! This module does not know what the targets mean (indices into the table's applications and
//! categories) nor where the names come from.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

/// What a pattern names: an application, a category, or both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Target {
    /// Index of the application.
    pub app: Option<u16>,
    /// Index of the category that overrides the application's.
    pub category: Option<u16>,
}

/// One normalised pattern and its target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Pattern {
    /// Lower-case ASCII, without a leading `.` or `*.`.
    pub text: String,
    /// What it names.
    pub target: Target,
}

/// The best match of a name: the longest pattern naming an application, the longest naming a
/// category.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct NameMatch {
    /// Application of the longest matching pattern that has one.
    pub app: Option<u16>,
    /// Category of the longest matching pattern that has one.
    pub category: Option<u16>,
}

/// Turns a pattern as written in a data file into its matching form: lower case, without a
/// leading `*.` or `.`. Returns why it cannot be a pattern.
pub(super) fn normalize(raw: &str) -> Result<String, &'static str> {
    let p = raw
        .strip_prefix("*.")
        .or_else(|| raw.strip_prefix('.'))
        .unwrap_or(raw);
    if p.is_empty() || p == "." || p == "-" {
        return Err("is empty");
    }
    if !p
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    {
        return Err("may hold only ASCII letters, digits, `.`, `-` and `_`");
    }
    if p.contains("..") {
        return Err("has an empty label (`..`)");
    }
    Ok(p.to_ascii_lowercase())
}

/// True for a pattern that may end inside a name (`netflix.`, `igcdn-photos-`).
fn is_open(p: &str) -> bool {
    p.ends_with('.') || p.ends_with('-')
}

/// The compiled patterns.
#[derive(Clone, Debug, Default)]
pub(super) struct HostMatcher {
    /// `None` when there are no patterns.
    automaton: Option<AhoCorasick>,
    /// Per automaton pattern: whether it is open, and its target.
    info: Vec<(bool, Target)>,
}

impl HostMatcher {
    /// Compiles `patterns` (each text once).
    pub(super) fn build(patterns: &[Pattern]) -> Self {
        if patterns.is_empty() {
            return HostMatcher::default();
        }
        let automaton = AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .ascii_case_insensitive(true)
            .build(patterns.iter().map(|p| p.text.as_bytes()))
            .expect("patterns are short ASCII strings, far below the automaton's limits");
        HostMatcher {
            automaton: Some(automaton),
            info: patterns
                .iter()
                .map(|p| (is_open(&p.text), p.target))
                .collect(),
        }
    }

    /// The best match of a server name (an HTTP Host may carry `:port`, a DNS name a final
    /// `.`: both are ignored).
    pub(super) fn lookup(&self, name: &str) -> NameMatch {
        let mut best = NameMatch::default();
        let Some(automaton) = &self.automaton else {
            return best;
        };
        let name = trim(name).as_bytes();
        if name.is_empty() {
            return best;
        }
        let (mut app_len, mut category_len) = (0, 0);
        for m in automaton.find_overlapping_iter(name) {
            let (start, end) = (m.start(), m.end());
            if start > 0 && name[start - 1] != b'.' {
                continue;
            }
            let (open, target) = self.info[m.pattern().as_usize()];
            if !open && end != name.len() {
                continue;
            }
            let len = end - start;
            if let Some(app) = target.app
                && len > app_len
            {
                (best.app, app_len) = (Some(app), len);
            }
            if let Some(category) = target.category
                && len > category_len
            {
                (best.category, category_len) = (Some(category), len);
            }
        }
        best
    }
}

/// `name` without a `:port` suffix (HTTP Host) and trailing dots (absolute DNS names).
fn trim(name: &str) -> &str {
    let mut n = name;
    if let Some((host, port)) = n.rsplit_once(':')
        && !host.contains(':')
        && !port.is_empty()
        && port.bytes().all(|b| b.is_ascii_digit())
    {
        n = host;
    }
    n.trim_end_matches('.')
}
