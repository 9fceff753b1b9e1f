//! An NDJSON file with size/age rotation and reopen (semantics in the parent module doc). This
//! file owns the path, the open file and its write buffer; it does not parse specs.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{WRITE_AT, encode};
use crate::error::Error;
use crate::export::SinkStats;
use crate::flow::FlowRecord;

/// Rotated names tried per second (`PATH.<time>`, `.1` ... `.N`) before giving up.
const MAX_SUFFIX: u32 = 9999;

/// The open file, its buffer of whole encoded records and the rotation state.
pub(super) struct RotatingFile {
    path: PathBuf,
    file: File,
    /// Encoded records not yet written; they belong to the current file.
    buf: Vec<u8>,
    /// Bytes in the current file (written, buffer excluded).
    len: u64,
    /// When the current file was opened (or last found empty by the age check).
    opened: Instant,
    rotate_bytes: Option<u64>,
    rotate_every: Option<Duration>,
}

impl RotatingFile {
    /// Opens `path` for appending, truncating it first when `truncate`.
    pub(super) fn open(
        path: PathBuf,
        truncate: bool,
        rotate_bytes: Option<u64>,
        rotate_every: Option<Duration>,
    ) -> Result<Self, Error> {
        let (file, len) = open_file(&path, truncate).map_err(|e| io_error(&path, "create", e))?;
        Ok(RotatingFile {
            path,
            file,
            buf: Vec::with_capacity(WRITE_AT * 2),
            len,
            opened: Instant::now(),
            rotate_bytes,
            rotate_every,
        })
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    pub(super) fn write_batch(
        &mut self,
        records: &[FlowRecord],
        stats: &mut SinkStats,
    ) -> Result<(), Error> {
        if self.rotate_every.is_some() {
            self.rotate_if_old(Instant::now(), stats)?;
        }
        for r in records {
            let start = self.buf.len();
            encode(r, &mut self.buf);
            if let Some(max) = self.rotate_bytes
                && self.len + self.buf.len() as u64 > max
                && self.len + start as u64 > 0
            {
                // This record would take the file past its limit: what precedes it closes the
                // file, and the record opens the next one.
                self.write_out(start, stats)?;
                self.rotate()?;
                self.buf.drain(..start);
            }
        }
        if self.buf.len() >= WRITE_AT {
            self.write_out(self.buf.len(), stats)?;
        }
        Ok(())
    }

    pub(super) fn flush(&mut self, stats: &mut SinkStats) -> Result<(), Error> {
        self.write_out(self.buf.len(), stats)?;
        if self.rotate_every.is_some() {
            self.rotate_if_old(Instant::now(), stats)?;
        }
        Ok(())
    }

    /// Writes out the buffer (it belongs to the file open now), then reopens `path` for
    /// appending: after logrotate moved the file away, this starts a new one.
    pub(super) fn reopen(&mut self, stats: &mut SinkStats) -> Result<(), Error> {
        self.write_out(self.buf.len(), stats)?;
        let (file, len) =
            open_file(&self.path, false).map_err(|e| io_error(&self.path, "reopen", e))?;
        self.file = file;
        self.len = len;
        self.opened = Instant::now();
        tracing::info!(
            message = "Reopened output file.",
            exporter = "json",
            path = %self.path.display(),
        );
        Ok(())
    }

    /// Writes the first `n` buffered bytes (whole records) to the file.
    fn write_out(&mut self, n: usize, stats: &mut SinkStats) -> Result<(), Error> {
        if n == 0 {
            return Ok(());
        }
        self.file
            .write_all(&self.buf[..n])
            .map_err(|e| io_error(&self.path, "write", e))?;
        self.len += n as u64;
        stats.bytes += n as u64;
        if n == self.buf.len() {
            self.buf.clear();
        }
        Ok(())
    }

    fn rotate_if_old(&mut self, now: Instant, stats: &mut SinkStats) -> Result<(), Error> {
        let Some(every) = self.rotate_every else {
            return Ok(());
        };
        if now.duration_since(self.opened) < every {
            return Ok(());
        }
        if self.len == 0 && self.buf.is_empty() {
            // Nothing to close: no empty rotated files; the period restarts.
            self.opened = now;
            return Ok(());
        }
        self.write_out(self.buf.len(), stats)?;
        self.rotate()
    }

    /// Renames the current file aside (never over an existing file) and starts a fresh `path`.
    /// Everything written so far is in the file: it is unbuffered.
    fn rotate(&mut self) -> Result<(), Error> {
        let stamp = utc_stamp(SystemTime::now());
        let aside =
            rename_aside(&self.path, &stamp).map_err(|e| io_error(&self.path, "rotate", e))?;
        let (file, len) =
            open_file(&self.path, false).map_err(|e| io_error(&self.path, "create", e))?;
        self.file = file;
        self.len = len;
        self.opened = Instant::now();
        tracing::debug!(
            message = "Rotated output file.",
            exporter = "json",
            path = %self.path.display(),
            rotated = ?aside.as_deref().map(Path::display),
        );
        Ok(())
    }
}

fn io_error(path: &Path, action: &'static str, source: io::Error) -> Error {
    Error::SinkIo {
        sink: "json",
        target: path.display().to_string(),
        action,
        source,
    }
}

/// Opens `path` for appending (created if missing); returns the file and its length.
fn open_file(path: &Path, truncate: bool) -> io::Result<(File, u64)> {
    let file = if truncate {
        File::create(path)?
    } else {
        OpenOptions::new().append(true).create(true).open(path)?
    };
    let len = file.metadata()?.len();
    Ok((file, len))
}

/// `PATH.<stamp>` for `n == 0`, else `PATH.<stamp>.<n>`.
pub(super) fn rotated_name(path: &Path, stamp: &str, n: u32) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(".");
    name.push(stamp);
    if n > 0 {
        name.push(format!(".{n}"));
    }
    PathBuf::from(name)
}

/// Moves `path` to the first free [`rotated_name`]. Returns the new name, or `None` when
/// `path` no longer exists (someone removed it; there is nothing to keep).
///
/// A hard link fails when its target exists, so link-then-unlink never overwrites a file, even
/// one created meanwhile by someone else; `rename` would replace it silently. Filesystems
/// without hard links fall back to check-then-rename.
fn rename_aside(path: &Path, stamp: &str) -> io::Result<Option<PathBuf>> {
    for n in 0..=MAX_SUFFIX {
        let to = rotated_name(path, stamp, n);
        match std::fs::hard_link(path, &to) {
            Ok(()) => {
                std::fs::remove_file(path)?;
                return Ok(Some(to));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return if path.try_exists()? { Err(e) } else { Ok(None) };
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::Unsupported | io::ErrorKind::PermissionDenied
                ) =>
            {
                if !to.try_exists()? {
                    std::fs::rename(path, &to)?;
                    return Ok(Some(to));
                }
            }
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("{MAX_SUFFIX} rotated files already carry the timestamp {stamp}"),
    ))
}

/// `t` as UTC `YYYYmmddTHHMMSSZ` (ISO 8601 basic format); times before 1970 read as 1970.
pub(super) fn utc_stamp(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (y, m, d) = civil_from_days(secs / 86_400);
    let s = secs % 86_400;
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant, "chrono-Compatible Low-Level Date Algorithms", `civil_from_days`,
/// restricted to non-negative days).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z / 146_097;
    let doe = z % 146_097; // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365], from March 1st
    let mp = (5 * doy + 2) / 153; // [0, 11], March = 0
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::json::encode::tests::record;

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir().join(format!(
                "xdpflow-json-{}-{name}-{}",
                std::process::id(),
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap()
                    .as_nanos()
            ));
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Files in `dir` other than `live`, sorted by name.
    fn rotated(dir: &Path, live: &str) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.file_name().unwrap() != live)
            .collect();
        v.sort();
        v
    }

    #[test]
    fn stamps_utc_basic_format() {
        let at = |s| utc_stamp(UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "19700101T000000Z");
        assert_eq!(at(951_782_400), "20000229T000000Z"); // leap day of a /400 year
        assert_eq!(at(951_868_799), "20000229T235959Z");
        assert_eq!(at(1_700_000_000), "20231114T221320Z");
        assert_eq!(at(4_102_444_799), "20991231T235959Z");
        assert_eq!(at(4_107_456_000), "21000228T000000Z"); // 2100 is not a leap year
        assert_eq!(at(4_107_542_400), "21000301T000000Z");
        assert_eq!(
            utc_stamp(UNIX_EPOCH - Duration::from_secs(1)),
            "19700101T000000Z"
        );
    }

    #[test]
    fn names_rotated_files() {
        let p = Path::new("/var/log/flows.json");
        assert_eq!(
            rotated_name(p, "20231114T221320Z", 0),
            Path::new("/var/log/flows.json.20231114T221320Z")
        );
        assert_eq!(
            rotated_name(p, "20231114T221320Z", 2),
            Path::new("/var/log/flows.json.20231114T221320Z.2")
        );
    }

    #[test]
    fn rename_aside_never_overwrites() {
        let dir = TempDir::new("aside");
        let live = dir.0.join("f.json");
        let stamp = "20231114T221320Z";
        std::fs::write(rotated_name(&live, stamp, 0), "old0").unwrap();
        std::fs::write(rotated_name(&live, stamp, 1), "old1").unwrap();
        std::fs::write(&live, "new").unwrap();
        let to = rename_aside(&live, stamp).unwrap();
        assert_eq!(to, Some(rotated_name(&live, stamp, 2)));
        assert!(!live.exists());
        assert_eq!(
            std::fs::read_to_string(rotated_name(&live, stamp, 0)).unwrap(),
            "old0"
        );
        assert_eq!(
            std::fs::read_to_string(rotated_name(&live, stamp, 1)).unwrap(),
            "old1"
        );
        assert_eq!(
            std::fs::read_to_string(rotated_name(&live, stamp, 2)).unwrap(),
            "new"
        );
        // A live file removed by someone else: nothing to move.
        assert_eq!(rename_aside(&live, stamp).unwrap(), None);
    }

    #[test]
    fn rotates_by_size_between_records() {
        let dir = TempDir::new("size");
        let live = dir.0.join("f.json");
        let mut one = Vec::new();
        encode(&record(), &mut one);
        let per_file = 3;
        // Room for three records and a half: the fourth goes to the next file, unsplit.
        let limit = (one.len() * per_file + one.len() / 2) as u64;
        let mut f = RotatingFile::open(live.clone(), false, Some(limit), None).unwrap();
        let mut stats = SinkStats::default();
        let records = vec![record(); 10];
        f.write_batch(&records[..4], &mut stats).unwrap();
        f.write_batch(&records[4..], &mut stats).unwrap();
        f.flush(&mut stats).unwrap();
        assert_eq!(stats.bytes, (one.len() * 10) as u64);
        let rotated = rotated(&dir.0, "f.json");
        assert_eq!(rotated.len(), 3, "{rotated:?}");
        for p in &rotated {
            assert_eq!(std::fs::read(p).unwrap(), one.repeat(per_file), "{p:?}");
        }
        assert_eq!(std::fs::read(&live).unwrap(), one);
    }

    #[test]
    fn a_record_larger_than_the_limit_gets_a_file_of_its_own() {
        let dir = TempDir::new("big");
        let live = dir.0.join("f.json");
        let mut one = Vec::new();
        encode(&record(), &mut one);
        let mut f = RotatingFile::open(live.clone(), false, Some(10), None).unwrap();
        let mut stats = SinkStats::default();
        f.write_batch(&vec![record(); 3], &mut stats).unwrap();
        f.flush(&mut stats).unwrap();
        let rotated = rotated(&dir.0, "f.json");
        assert_eq!(rotated.len(), 2, "{rotated:?}");
        for p in &rotated {
            assert_eq!(std::fs::read(p).unwrap(), one);
        }
        assert_eq!(std::fs::read(&live).unwrap(), one);
    }

    #[test]
    fn rotates_by_age_but_not_empty_files() {
        let dir = TempDir::new("age");
        let live = dir.0.join("f.json");
        let every = Duration::from_millis(30);
        let mut f = RotatingFile::open(live.clone(), false, None, Some(every)).unwrap();
        let mut stats = SinkStats::default();
        std::thread::sleep(every * 2);
        f.flush(&mut stats).unwrap();
        assert!(
            rotated(&dir.0, "f.json").is_empty(),
            "an empty file is kept"
        );
        f.write_batch(&[record()], &mut stats).unwrap();
        f.flush(&mut stats).unwrap();
        assert!(rotated(&dir.0, "f.json").is_empty(), "too young");
        std::thread::sleep(every * 2);
        f.write_batch(&[record(), record()], &mut stats).unwrap();
        f.flush(&mut stats).unwrap();
        let rotated = rotated(&dir.0, "f.json");
        assert_eq!(rotated.len(), 1, "{rotated:?}");
        let mut one = Vec::new();
        encode(&record(), &mut one);
        assert_eq!(std::fs::read(&rotated[0]).unwrap(), one);
        assert_eq!(std::fs::read(&live).unwrap(), one.repeat(2));
    }

    #[test]
    fn reopen_appends_to_a_new_file_after_a_move() {
        let dir = TempDir::new("reopen");
        let live = dir.0.join("f.json");
        std::fs::write(&live, "earlier run\n").unwrap();
        let mut f = RotatingFile::open(live.clone(), false, None, None).unwrap();
        let mut stats = SinkStats::default();
        f.write_batch(&[record()], &mut stats).unwrap();
        std::fs::rename(&live, dir.0.join("moved")).unwrap();
        // Buffered before the reopen: still goes to the moved file.
        f.write_batch(&[record()], &mut stats).unwrap();
        f.reopen(&mut stats).unwrap();
        f.write_batch(&[record()], &mut stats).unwrap();
        f.flush(&mut stats).unwrap();
        let mut one = Vec::new();
        encode(&record(), &mut one);
        let mut want = b"earlier run\n".to_vec();
        want.extend_from_slice(&one.repeat(2));
        assert_eq!(std::fs::read(dir.0.join("moved")).unwrap(), want);
        assert_eq!(std::fs::read(&live).unwrap(), one);
    }
}
