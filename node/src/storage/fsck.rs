//! Offline verification of a data directory (`shoal-node fsck`).
//!
//! For every shard directory: both superblock slots, every extent reachable from the newest
//! checkpoint (checksum, header, generation, structure, key order within the fences its
//! parents give it), the checkpoint's free list against the reachable set (no page both
//! used and free, none used twice), and every segment of the log with the same chain and
//! durable-watermark rules recovery applies. Each problem names the file, the byte offset
//! and the reason.
//!
//! Read-only: it never modifies, truncates or "repairs" anything, and it reads with plain
//! buffered I/O so it can run beside a stopped node without the glommio runtime.

use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use futures::FutureExt;

use super::btree::node::{ExtentRef, Node, Value};
use super::btree::page::{ExtentKind, decode_meta, decode_node, decode_superblock, verify_extent};
use super::btree::{TREE_FILE_NAME, alloc::RESERVED_PAGES};
use super::engine::WAL_DIR_NAME;
use super::error::StorageError;
use super::io::BLOCK_SIZE;
use super::wal::recovery::ChainScanner;
use super::wal::segment::{is_temp_segment_name, parse_segment_name};

/// Deepest tree accepted (a cycle or a corrupt pointer chain stops here).
const TREE_DEPTH_MAX: usize = 64;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Data is damaged or inconsistent.
    Problem,
    /// Worth knowing, harmless (a torn tail recovery will cut, an older superblock slot).
    Note,
}

/// One finding.
#[derive(Debug, Clone)]
pub struct Finding {
    /// Problem or note.
    pub severity: Severity,
    /// The file.
    pub path: PathBuf,
    /// Byte offset in the file.
    pub offset: u64,
    /// What is wrong.
    pub reason: String,
}

/// Everything fsck found.
#[derive(Debug, Default)]
pub struct FsckReport {
    /// Shard directories checked.
    pub shards: Vec<PathBuf>,
    /// Extents verified.
    pub extents: u64,
    /// Keys seen in leaves.
    pub keys: u64,
    /// Log records verified.
    pub records: u64,
    /// Findings, in the order found.
    pub findings: Vec<Finding>,
}

impl FsckReport {
    /// Number of problems (notes excluded).
    pub fn problems(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Problem)
            .count()
    }

    fn add(&mut self, severity: Severity, path: &Path, offset: u64, reason: impl Into<String>) {
        self.findings.push(Finding {
            severity,
            path: path.to_path_buf(),
            offset,
            reason: reason.into(),
        });
    }
}

/// Checks every shard under `data_dir` (a node data directory holding `shard-*`
/// directories, or one shard directory).
pub fn fsck_data_dir(data_dir: &Path) -> std::io::Result<FsckReport> {
    let mut report = FsckReport::default();
    for shard in shard_dirs(data_dir)? {
        check_tree(&shard.join(TREE_FILE_NAME), &mut report);
        check_wal(&shard.join(WAL_DIR_NAME), &mut report)?;
        report.shards.push(shard);
    }
    Ok(report)
}

fn is_shard_dir(dir: &Path) -> bool {
    dir.join(TREE_FILE_NAME).exists() || dir.join(WAL_DIR_NAME).is_dir()
}

/// The shard directories under `dir` (or `dir` itself).
pub fn shard_dirs(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    if is_shard_dir(dir) {
        return Ok(vec![dir.to_path_buf()]);
    }
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() && is_shard_dir(&path) {
            out.push(path);
        }
    }
    out.sort();
    if out.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!(
                "{} holds no shard directories (no tree.db or wal/)",
                dir.display()
            ),
        ));
    }
    Ok(out)
}

struct TreeWalk<'a> {
    file: fs::File,
    path: &'a Path,
    page_size: usize,
    file_id: u64,
    high_water: u32,
    used: BTreeSet<u32>,
}

fn check_tree(path: &Path, report: &mut FsckReport) {
    let file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) => return report.add(Severity::Problem, path, 0, format!("cannot open: {e}")),
    };
    let mut best = None;
    for (slot, offsets) in [
        (0u32, vec![0u64]),
        (1, (12..=16).map(|s| 1u64 << s).collect()),
    ] {
        for offset in offsets {
            let mut buf = vec![0u8; BLOCK_SIZE];
            if file.read_exact_at(&mut buf, offset).is_err() {
                continue;
            }
            match decode_superblock(&buf, slot) {
                Ok(Some(sb)) if slot == 0 || sb.page_size as u64 == offset => {
                    if best
                        .as_ref()
                        .is_none_or(|b: &super::btree::page::Superblock| sb.sequence > b.sequence)
                    {
                        best = Some(sb);
                    }
                    break;
                }
                Ok(_) => {}
                Err(e) if slot == 0 || best.is_some_and(|b| b.page_size as u64 == offset) => {
                    report.add(
                        Severity::Note,
                        path,
                        offset,
                        format!("superblock slot {slot}: {e}"),
                    );
                }
                Err(_) => {}
            }
        }
    }
    let Some(sb) = best else {
        return report.add(
            Severity::Problem,
            path,
            0,
            "no valid superblock in either slot",
        );
    };
    let mut walk = TreeWalk {
        file,
        path,
        page_size: sb.page_size as usize,
        file_id: sb.file_id,
        high_water: sb.high_water,
        used: BTreeSet::new(),
    };
    if sb.root.pages > 0 {
        walk.node(sb.root, None, None, 0, report);
    }
    let free = if sb.meta.pages > 0 {
        walk.claim(sb.meta, report);
        walk.read(sb.meta, report).and_then(|(kind, _, body)| {
            if kind != ExtentKind::Meta {
                walk.problem(
                    sb.meta,
                    format!("expected checkpoint metadata, found {kind:?}"),
                    report,
                );
                return None;
            }
            decode_meta(&body)
                .map_err(|e| walk.problem(sb.meta, e, report))
                .ok()
                .map(|m| m.free)
        })
    } else {
        Some(Vec::new())
    };
    if let Some(free) = free {
        walk.check_free(&free, report);
    }
}

impl TreeWalk<'_> {
    fn offset(&self, r: ExtentRef) -> u64 {
        r.page as u64 * self.page_size as u64
    }

    fn problem(&self, r: ExtentRef, reason: impl Into<String>, report: &mut FsckReport) {
        report.add(Severity::Problem, self.path, self.offset(r), reason);
    }

    /// Marks the extent's pages used; reports double use and out-of-range references.
    fn claim(&mut self, r: ExtentRef, report: &mut FsckReport) -> bool {
        let end = r.page as u64 + r.pages as u64;
        if r.page < RESERVED_PAGES || r.pages == 0 || end > self.high_water as u64 {
            let hw = self.high_water;
            self.problem(
                r,
                format!("reference to pages {}+{} outside 2..{hw}", r.page, r.pages),
                report,
            );
            return false;
        }
        for p in r.page..r.page + r.pages {
            if !self.used.insert(p) {
                self.problem(r, format!("page {p} is referenced twice"), report);
                return false;
            }
        }
        true
    }

    fn read(&self, r: ExtentRef, report: &mut FsckReport) -> Option<(ExtentKind, u32, Vec<u8>)> {
        let mut buf = vec![0u8; r.pages as usize * self.page_size];
        if let Err(e) = self.file.read_exact_at(&mut buf, self.offset(r)) {
            self.problem(r, format!("cannot read extent: {e}"), report);
            return None;
        }
        report.extents += 1;
        match verify_extent(&mut buf, r, self.file_id) {
            Ok(v) => Some((v.kind, v.count, v.body.to_vec())),
            Err(e) => {
                self.problem(r, e, report);
                None
            }
        }
    }

    fn node(
        &mut self,
        r: ExtentRef,
        lower: Option<&[u8]>,
        upper: Option<&[u8]>,
        depth: usize,
        report: &mut FsckReport,
    ) {
        if depth > TREE_DEPTH_MAX {
            return self.problem(
                r,
                format!("tree deeper than {TREE_DEPTH_MAX} levels"),
                report,
            );
        }
        if !self.claim(r, report) {
            return;
        }
        let Some((kind, count, body)) = self.read(r, report) else {
            return;
        };
        let node = match decode_node(kind, count, &body) {
            Ok(n) => n,
            Err(e) => return self.problem(r, e, report),
        };
        let in_fences = |k: &[u8]| lower.is_none_or(|l| k >= l) && upper.is_none_or(|u| k < u);
        match node {
            Node::Leaf(leaf) => {
                for e in &leaf.entries {
                    report.keys += 1;
                    if !in_fences(&e.key) {
                        self.problem(r, "leaf key outside the range its parents give it", report);
                        return;
                    }
                    if let Value::Overflow { extent, len } = &e.value {
                        self.overflow(*extent, *len, report);
                    }
                }
            }
            Node::Branch(b) => {
                if let Some(k) = b.keys.iter().find(|k| !in_fences(k)) {
                    let k = String::from_utf8_lossy(&k[..k.len().min(32)]).into_owned();
                    return self.problem(
                        r,
                        format!("separator {k:?} outside the node's range"),
                        report,
                    );
                }
                for (i, child) in b.children.iter().enumerate() {
                    let lo = if i == 0 { lower } else { Some(&*b.keys[i - 1]) };
                    let hi = if i == b.keys.len() {
                        upper
                    } else {
                        Some(&*b.keys[i])
                    };
                    self.node(*child, lo, hi, depth + 1, report);
                }
            }
        }
    }

    fn overflow(&mut self, r: ExtentRef, len: u32, report: &mut FsckReport) {
        if !self.claim(r, report) {
            return;
        }
        if let Some((kind, _, body)) = self.read(r, report)
            && (kind != ExtentKind::Overflow || body.len() != len as usize)
        {
            self.problem(
                r,
                format!("expected an overflow value of {len} bytes"),
                report,
            );
        }
    }

    fn check_free(&self, free: &[(u32, u32)], report: &mut FsckReport) {
        let mut free_pages = HashSet::new();
        for &(start, len) in free {
            for p in start..start.saturating_add(len) {
                if p >= self.high_water || !free_pages.insert(p) {
                    let reason = format!("free run {start}+{len} overlaps or exceeds the file");
                    return report.add(Severity::Problem, self.path, 0, reason);
                }
                if self.used.contains(&p) {
                    let reason = format!("page {p} is both in use and in the free list");
                    let offset = p as u64 * self.page_size as u64;
                    return report.add(Severity::Problem, self.path, offset, reason);
                }
            }
        }
        let accounted = self.used.len() + free_pages.len() + RESERVED_PAGES as usize;
        let leaked = (self.high_water as usize).saturating_sub(accounted);
        if leaked > 0 {
            report.add(
                Severity::Note,
                self.path,
                0,
                format!("{leaked} pages neither used nor free"),
            );
        }
    }
}

fn check_wal(dir: &Path, report: &mut FsckReport) -> std::io::Result<()> {
    if !dir.is_dir() {
        report.add(Severity::Problem, dir, 0, "log directory is missing");
        return Ok(());
    }
    let mut names: Vec<String> = fs::read_dir(dir)?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    names.sort();
    for name in names.iter().filter(|n| is_temp_segment_name(n)) {
        report.add(
            Severity::Note,
            &dir.join(name),
            0,
            "leftover temporary segment",
        );
    }
    let mut seqs: Vec<u64> = names.iter().filter_map(|n| parse_segment_name(n)).collect();
    seqs.sort_unstable();
    let mut scanner = ChainScanner::new();
    let mut records = 0u64;
    for seq in seqs {
        let path = dir.join(super::wal::segment::segment_name(seq));
        let data = fs::read(&path)?;
        let mut count = |_: &super::wal::Record<'_>, _| -> Result<(), StorageError> {
            records += 1;
            Ok(())
        };
        let scanned = scanner
            .segment(seq, &path, &data, &mut count)
            .now_or_never()
            .expect("a scanner that does not yield completes at once");
        if let Err(e) = scanned {
            push_error(report, e);
            return Ok(());
        }
    }
    report.records += records;
    match scanner.finish() {
        Ok(end) => {
            if let Some((path, offset, reason)) = end.report.cut {
                let reason = format!("torn tail (never acknowledged; recovery cuts it): {reason}");
                report.add(Severity::Note, &path, offset, reason);
            }
        }
        Err(e) => push_error(report, e),
    }
    Ok(())
}

fn push_error(report: &mut FsckReport, e: StorageError) {
    match e {
        StorageError::Corrupt {
            path,
            offset,
            reason,
        } => {
            report.add(Severity::Problem, &path, offset, reason);
        }
        other => report.add(Severity::Problem, Path::new("?"), 0, other.to_string()),
    }
}
