//! Command and reply lines of the text protocols the service dissectors probe: SMTP (RFC 5321
//! §2.3.8, §4.1.1, §4.2), POP3 (RFC 1939 §3), IMAP (RFC 9051 §2.2), FTP (RFC 959 §4.1, §4.2)
//! and RTSP (RFC 2326 §6.1, §7.1).
//!
//! Owns finding the first line of a payload, splitting a command into its verb and argument,
//! and reading a three-digit reply code. It does *not* gather lines across segments: the
//! dissectors decide on the first line of a payload, which is the first line of a message in
//! every capture seen, and a line cut by the segment simply does not match.
//!
//! Contract: no function panics or allocates, except [`capped_string`] (which allocates its
//! result).

/// Longest line looked at, line end included: longer is not a command or reply line of these
/// protocols (RFC 5321 §4.5.3.1.4 allows 512 octets for a command line, RFC 1939 §3 255 for a
/// POP3 response).
pub const MAX_LINE: usize = 512;

/// The first line of `payload` without its CR LF (or bare LF), when it starts with a visible
/// ASCII character, ends within [`MAX_LINE`] bytes and holds only text (printable ASCII,
/// UTF-8 octets, tab).
pub fn first_line(payload: &[u8]) -> Option<&[u8]> {
    // Cheap reject of binary payloads: every line these protocols start with begins with a
    // visible character.
    if !payload.first().is_some_and(u8::is_ascii_graphic) {
        return None;
    }
    let window = &payload[..payload.len().min(MAX_LINE)];
    let end = window.iter().position(|&b| b == b'\n')?;
    let line = &window[..end];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    line.iter()
        .all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f))
        .then_some(line)
}

/// The reply code of a reply line (`DDD SP text`, `DDD-text` or a bare `DDD`; RFC 5321
/// §4.2, RFC 959 §4.2), 100 to 599.
pub fn reply_code(line: &[u8]) -> Option<u16> {
    let (digits, rest) = line.split_at_checked(3)?;
    if !digits.iter().all(u8::is_ascii_digit) || !matches!(rest.first(), None | Some(b' ' | b'-')) {
        return None;
    }
    let code = digits
        .iter()
        .fold(0u16, |acc, &d| acc * 10 + u16::from(d - b'0'));
    (100..600).contains(&code).then_some(code)
}

/// Splits a command line into its verb (1 to 16 ASCII letters) and the argument after the
/// separating spaces (empty when there is none).
pub fn command(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = line.iter().position(|&b| b == b' ').unwrap_or(line.len());
    let verb = &line[..end];
    if verb.is_empty() || verb.len() > 16 || !verb.iter().all(u8::is_ascii_alphabetic) {
        return None;
    }
    let arg = line[end..].trim_ascii_start();
    Some((verb, arg))
}

/// True when `verb` is one of `list` (written in upper case), ignoring case.
pub fn is_one_of(verb: &[u8], list: &[&str]) -> bool {
    list.iter().any(|c| verb.eq_ignore_ascii_case(c.as_bytes()))
}

/// True when `hay` contains `needle` (written in upper case), ignoring case.
pub fn contains_ignore_case(hay: &[u8], needle: &str) -> bool {
    let n = needle.as_bytes();
    !n.is_empty() && hay.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

/// The first word of `arg` (up to a space), at most `cap` bytes of it, as text (invalid
/// UTF-8 replaced).
pub fn capped_string(arg: &[u8], cap: usize) -> String {
    let end = arg.iter().position(|&b| b == b' ').unwrap_or(arg.len());
    let word = &arg[..end.min(cap)];
    String::from_utf8_lossy(word).into_owned()
}

/// True when `name` looks like a DNS host name: 1 to 253 bytes of letters, digits, `-`, `_`
/// and `.`, with at least one dot and no leading dot.
pub fn is_host_name(name: &[u8]) -> bool {
    (1..=253).contains(&name.len())
        && name[0] != b'.'
        && name.contains(&b'.')
        && name
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        assert_eq!(first_line(b"220 hi\r\n250 x\r\n"), Some(&b"220 hi"[..]));
        assert_eq!(first_line(b"+OK\n"), Some(&b"+OK"[..]));
        assert_eq!(first_line(b"no line end"), None);
        assert_eq!(first_line(b"bin\x00ary\r\n"), None);
        assert_eq!(first_line(b" indented\r\n"), None);
        assert_eq!(first_line(b"\x16\x03\x01\n"), None);
        let mut long = vec![b'a'; MAX_LINE];
        long.push(b'\n');
        assert_eq!(first_line(&long), None);
    }

    #[test]
    fn reply_codes() {
        assert_eq!(reply_code(b"220 mx ESMTP"), Some(220));
        assert_eq!(reply_code(b"250-SIZE"), Some(250));
        assert_eq!(reply_code(b"221"), Some(221));
        assert_eq!(reply_code(b"22"), None);
        assert_eq!(reply_code(b"2200"), None);
        assert_eq!(reply_code(b"099 x"), None);
        assert_eq!(reply_code(b"abc x"), None);
    }

    #[test]
    fn commands() {
        assert_eq!(command(b"USER  bob"), Some((&b"USER"[..], &b"bob"[..])));
        assert_eq!(command(b"QUIT"), Some((&b"QUIT"[..], &b""[..])));
        assert_eq!(command(b"A001 LOGIN"), None);
        assert_eq!(command(b""), None);
        assert_eq!(command(b"ABCDEFGHIJKLMNOPQ x"), None);
        assert!(is_one_of(b"ehlo", &["HELO", "EHLO"]));
        assert!(!is_one_of(b"EHL", &["EHLO"]));
        assert!(contains_ignore_case(b"220 x esmtp", "ESMTP"));
        assert!(!contains_ignore_case(b"220", ""));
        assert_eq!(capped_string(b"alice extra", 3), "ali");
        assert!(is_host_name(b"mx.google.com"));
        assert!(!is_host_name(b"localhost"));
        assert!(!is_host_name(b".x.y"));
        assert!(!is_host_name(b"a b.c"));
    }
}
