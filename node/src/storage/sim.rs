//! An in-memory [`Disk`] that forgets, tears and fails on demand, for crash and fault tests.
//!
//! Each file keeps two images: what reads see now, and what has been made durable by
//! `fdatasync`. Writes since the last sync are tracked per 512-byte sector. A simulated crash
//! ([`SimDisk::crash`]) keeps or drops every unsynced sector independently (seeded), so a
//! multi-block write can survive partially and out of order, exactly the torn-write model
//! of RUNTIME-NOTES §6.5. Directory entries (creations, renames, removals) survive a crash
//! only after `sync_dir`, as on a real filesystem without `dirsync`.
//!
//! A file opened with [`Disk::open_synced`] makes each write's own sectors durable one turn
//! after writing them, as an `O_DSYNC` write does (the flush counts as an fdatasync).
//!
//! Injected faults: the Nth write or fdatasync from now fails with EIO; a byte flipped at
//! rest ([`SimDisk::corrupt`]). The engine must detect each of these, never return damaged
//! bytes as data, and fail-stop on write and sync errors.
//!
//! Does not model latency: reads, writes and syncs complete after giving other tasks one
//! turn, which is enough to interleave them.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

use super::io::{BLOCK_SIZE, Disk, DiskFile, IoBuf};

/// Granularity at which a crash keeps or drops unsynced data.
pub const SECTOR_SIZE: usize = 512;

/// A simulated disk. Clones share the same state. A handle is tied to the "process life"
/// it was made in: after [`SimDisk::crash`], calls through older handles fail with EIO (the
/// process that held them died); take a new one with [`SimDisk::after_crash`].
#[derive(Clone, Default)]
pub struct SimDisk {
    state: Rc<RefCell<SimState>>,
    life: u64,
}

#[derive(Default)]
struct SimState {
    files: HashMap<u64, SimFileData>,
    names: BTreeMap<PathBuf, u64>,
    durable_names: BTreeMap<PathBuf, u64>,
    next_id: u64,
    writes: u64,
    syncs: u64,
    fail_write_at: Option<u64>,
    fail_sync_at: Option<u64>,
    capacity_bytes: Option<u64>,
    last_write: Option<(u64, u64, usize)>,
    /// Bumped by every crash: handles opened before it fail, as if their process died.
    life: u64,
}

#[derive(Default, Clone)]
struct SimFileData {
    current: Vec<u8>,
    durable: Vec<u8>,
    dirty: BTreeSet<u64>,
}

impl SimState {
    /// Counts one sync (`what`), or fails it with EIO if it is the injected failure.
    fn count_sync(&mut self, what: &str) -> io::Result<()> {
        if self.fail_sync_at == Some(self.syncs) {
            self.fail_sync_at = None;
            return Err(eio(what));
        }
        self.syncs += 1;
        Ok(())
    }
}

/// What [`SimDisk::crash`] did, for test diagnostics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CrashReport {
    /// Unsynced sectors that reached the durable image.
    pub sectors_kept: u64,
    /// Unsynced sectors that were lost.
    pub sectors_dropped: u64,
    /// Files whose creation was lost because their directory was never synced.
    pub files_lost: u64,
}

impl SimDisk {
    /// An empty disk.
    pub fn new() -> Self {
        Self::default()
    }

    /// A handle for the current process life (use after [`SimDisk::crash`]).
    pub fn after_crash(&self) -> SimDisk {
        SimDisk {
            state: self.state.clone(),
            life: self.state.borrow().life,
        }
    }

    fn live(&self) -> io::Result<std::cell::RefMut<'_, SimState>> {
        let s = self.state.borrow_mut();
        if s.life != self.life {
            return Err(io::Error::other(
                "disk handle from before a simulated crash",
            ));
        }
        Ok(s)
    }

    /// The write after `n` more successful writes fails with EIO (`n = 0`: the next one).
    pub fn fail_write_after(&self, n: u64) {
        let mut s = self.state.borrow_mut();
        s.fail_write_at = Some(s.writes + n);
    }

    /// The fdatasync after `n` more successful ones fails with EIO.
    pub fn fail_sync_after(&self, n: u64) {
        let mut s = self.state.borrow_mut();
        s.fail_sync_at = Some(s.syncs + n);
    }

    /// Makes the disk full: writes that would grow the files' total size beyond
    /// `bytes` fail with ENOSPC.
    pub fn set_capacity(&self, bytes: Option<u64>) {
        self.state.borrow_mut().capacity_bytes = bytes;
    }

    /// Clears injected write and sync failures.
    pub fn clear_faults(&self) {
        let mut s = self.state.borrow_mut();
        s.fail_write_at = None;
        s.fail_sync_at = None;
        s.capacity_bytes = None;
    }

    /// Number of writes and fdatasyncs performed so far.
    pub fn counters(&self) -> (u64, u64) {
        let s = self.state.borrow();
        (s.writes, s.syncs)
    }

    /// Simulates power loss: each unsynced sector is kept or dropped at random (seeded by
    /// `seed`), unsynced directory entries are forgotten, and the current image becomes the
    /// durable one.
    pub fn crash(&self, seed: u64) -> CrashReport {
        let mut rng = Pcg64::seed_from_u64(seed);
        self.crash_with(|_, _| rng.random_bool(0.5))
    }

    /// Simulates power loss during the last write: its first `keep_sectors` sectors persist,
    /// the rest of it and every other unsynced sector are lost.
    pub fn crash_tearing_last_write(&self, keep_sectors: u64) -> CrashReport {
        let last = self.state.borrow().last_write;
        self.crash_with(|id, sector| match last {
            Some((lid, pos, len)) if lid == id => {
                let first = pos / SECTOR_SIZE as u64;
                let end = (pos + len as u64) / SECTOR_SIZE as u64;
                sector >= first && sector < end && sector < first + keep_sectors
            }
            _ => false,
        })
    }

    /// Simulates power loss where every unsynced sector persists (a clean shutdown without
    /// fsync) or none does (`keep = false`).
    pub fn crash_uniform(&self, keep: bool) -> CrashReport {
        self.crash_with(|_, _| keep)
    }

    fn crash_with(&self, mut keep: impl FnMut(u64, u64) -> bool) -> CrashReport {
        let mut s = self.state.borrow_mut();
        let mut report = CrashReport::default();
        let mut ids: Vec<u64> = s.files.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            let file = s.files.get_mut(&id).expect("listed above");
            for sector in std::mem::take(&mut file.dirty) {
                if keep(id, sector) {
                    report.sectors_kept += 1;
                    copy_sector(&file.current, &mut file.durable, sector);
                } else {
                    report.sectors_dropped += 1;
                }
            }
            file.current = file.durable.clone();
        }
        s.names = s.durable_names.clone();
        let live: BTreeSet<u64> = s.names.values().copied().collect();
        let before = s.files.len();
        s.files.retain(|id, _| live.contains(id));
        report.files_lost = (before - s.files.len()) as u64;
        s.last_write = None;
        s.fail_write_at = None;
        s.fail_sync_at = None;
        s.life += 1;
        report
    }

    /// XORs `mask` into the byte at `offset` of `path`, both in the current and the durable
    /// image (damage at rest). Returns false if the file or offset does not exist.
    pub fn corrupt(&self, path: &Path, offset: u64, mask: u8) -> bool {
        let mut s = self.state.borrow_mut();
        let Some(&id) = s.names.get(path) else {
            return false;
        };
        let file = s.files.get_mut(&id).expect("named file exists");
        let at = offset as usize;
        if at >= file.current.len() {
            return false;
        }
        file.current[at] ^= mask;
        if at < file.durable.len() {
            file.durable[at] ^= mask;
        }
        true
    }

    /// The current contents of `path`, if it exists.
    pub fn contents(&self, path: &Path) -> Option<Vec<u8>> {
        let s = self.state.borrow();
        let id = s.names.get(path)?;
        Some(s.files[id].current.clone())
    }

    /// Paths of all files, sorted.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.state.borrow().names.keys().cloned().collect()
    }
}

/// Gives other tasks one turn before an I/O completes, so that tests interleave writers,
/// flushes and checkpoints the way real I/O latency does.
async fn io_turn() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            std::task::Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await;
}

fn copy_sector(from: &[u8], to: &mut Vec<u8>, sector: u64) {
    let start = sector as usize * SECTOR_SIZE;
    if start >= from.len() {
        return;
    }
    let end = (start + SECTOR_SIZE).min(from.len());
    if to.len() < end {
        to.resize(end, 0);
    }
    to[start..end].copy_from_slice(&from[start..end]);
}

/// A buffer for [`SimDisk`] writes.
pub struct SimBuf(Vec<u8>);

impl Deref for SimBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl DerefMut for SimBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }
}

impl IoBuf for SimBuf {}

/// A file on a [`SimDisk`].
pub struct SimFile {
    disk: SimDisk,
    id: u64,
    life: u64,
    /// Opened with [`Disk::open_synced`]: each write ends with a sync of its own sectors.
    synced: bool,
}

impl SimFile {
    /// The state, or EIO if a crash happened since this handle was opened.
    fn live(&self) -> io::Result<std::cell::RefMut<'_, SimState>> {
        let s = self.disk.state.borrow_mut();
        if s.life != self.life {
            return Err(io::Error::other(
                "file handle from before a simulated crash",
            ));
        }
        Ok(s)
    }
}

fn eio(what: &str) -> io::Error {
    io::Error::other(format!("injected EIO on {what}"))
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{} not found", path.display()),
    )
}

impl Disk for SimDisk {
    type File = SimFile;
    type Buf = SimBuf;

    fn alloc(&self, len: usize) -> SimBuf {
        assert!(
            len.is_multiple_of(BLOCK_SIZE),
            "buffer length {len} not block aligned"
        );
        SimBuf(vec![0; len])
    }

    async fn open(&self, path: &Path, create: bool) -> io::Result<SimFile> {
        let mut s = self.live()?;
        let id = match s.names.get(path) {
            Some(&id) => id,
            None if create => {
                s.next_id += 1;
                let id = s.next_id;
                s.files.insert(id, SimFileData::default());
                s.names.insert(path.to_path_buf(), id);
                id
            }
            None => return Err(not_found(path)),
        };
        let life = s.life;
        Ok(SimFile {
            disk: self.clone(),
            id,
            life,
            synced: false,
        })
    }

    async fn open_synced(&self, path: &Path) -> io::Result<SimFile> {
        let mut file = self.open(path, false).await?;
        file.synced = true;
        Ok(file)
    }

    async fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut s = self.live()?;
        let in_dir = |p: &Path| p.parent() == Some(dir);
        let current: Vec<(PathBuf, u64)> = s
            .names
            .iter()
            .filter(|(p, _)| in_dir(p))
            .map(|(p, id)| (p.clone(), *id))
            .collect();
        s.durable_names.retain(|p, _| !in_dir(p));
        s.durable_names.extend(current);
        Ok(())
    }

    async fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut s = self.live()?;
        let id = s.names.remove(from).ok_or_else(|| not_found(from))?;
        s.names.insert(to.to_path_buf(), id);
        Ok(())
    }

    async fn remove(&self, path: &Path) -> io::Result<()> {
        let mut s = self.live()?;
        s.names.remove(path).ok_or_else(|| not_found(path))?;
        Ok(())
    }

    async fn create_dir_all(&self, _dir: &Path) -> io::Result<()> {
        Ok(())
    }

    async fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let s = self.live()?;
        Ok(s.names
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .filter_map(|p| p.file_name()?.to_str().map(str::to_string))
            .collect())
    }

    async fn exists(&self, path: &Path) -> io::Result<bool> {
        Ok(self.live()?.names.contains_key(path))
    }
}

impl DiskFile for SimFile {
    type Buf = SimBuf;
    type ReadBuf = Vec<u8>;

    async fn read_at(&self, pos: u64, len: usize) -> io::Result<Vec<u8>> {
        io_turn().await;
        let s = self.live()?;
        let data = &s
            .files
            .get(&self.id)
            .ok_or_else(|| eio("read of removed file"))?
            .current;
        let start = (pos as usize).min(data.len());
        let end = (pos as usize + len).min(data.len());
        Ok(data[start..end].to_vec())
    }

    async fn write_at(&self, buf: SimBuf, pos: u64) -> io::Result<()> {
        io_turn().await;
        let (first, last) = {
            let mut s = self.live()?;
            if s.fail_write_at == Some(s.writes) {
                s.fail_write_at = None;
                return Err(eio("write"));
            }
            if let Some(cap) = s.capacity_bytes {
                let used: u64 = s.files.values().map(|f| f.current.len() as u64).sum();
                let grows = s.files.get(&self.id).map_or(0, |f| {
                    (pos as usize + buf.len()).saturating_sub(f.current.len()) as u64
                });
                if used + grows > cap {
                    return Err(io::Error::from_raw_os_error(libc::ENOSPC));
                }
            }
            s.writes += 1;
            s.last_write = Some((self.id, pos, buf.len()));
            let file = s
                .files
                .get_mut(&self.id)
                .ok_or_else(|| eio("write of removed file"))?;
            let start = pos as usize;
            let end = start + buf.len();
            if file.current.len() < end {
                file.current.resize(end, 0);
            }
            file.current[start..end].copy_from_slice(&buf);
            let first = start / SECTOR_SIZE;
            let last = end.div_ceil(SECTOR_SIZE);
            file.dirty.extend((first..last).map(|s| s as u64));
            (first, last)
        };
        if !self.synced {
            return Ok(());
        }
        // O_DSYNC: the bytes are written, the device flush that makes them durable follows.
        // A crash before it keeps any subset of their sectors (a torn write); a failed flush
        // is an fdatasync failure and counts as one.
        io_turn().await;
        let mut s = self.live()?;
        s.count_sync("fdatasync of a synced write")?;
        let file = s
            .files
            .get_mut(&self.id)
            .ok_or_else(|| eio("write of removed file"))?;
        for sector in first as u64..last as u64 {
            if file.dirty.remove(&sector) {
                copy_sector(&file.current, &mut file.durable, sector);
            }
        }
        Ok(())
    }

    async fn fdatasync(&self) -> io::Result<()> {
        io_turn().await;
        let mut s = self.live()?;
        // Like Linux after a failed writeback: the dirty state is forgotten, the data may
        // or may not be on disk. On failure it stays volatile so a later crash can drop it.
        s.count_sync("fdatasync")?;
        let file = s
            .files
            .get_mut(&self.id)
            .ok_or_else(|| eio("sync of removed file"))?;
        for sector in std::mem::take(&mut file.dirty) {
            copy_sector(&file.current, &mut file.durable, sector);
        }
        file.durable.truncate(file.current.len());
        if file.durable.len() < file.current.len() {
            file.durable.resize(file.current.len(), 0);
        }
        Ok(())
    }

    async fn size(&self) -> io::Result<u64> {
        let s = self.live()?;
        Ok(s.files.get(&self.id).map_or(0, |f| f.current.len() as u64))
    }

    async fn truncate(&self, len: u64) -> io::Result<()> {
        let mut s = self.live()?;
        let file = s
            .files
            .get_mut(&self.id)
            .ok_or_else(|| eio("truncate of removed file"))?;
        file.current.resize(len as usize, 0);
        let sectors = (len as usize).div_ceil(SECTOR_SIZE) as u64;
        file.dirty.retain(|&s| s < sectors);
        Ok(())
    }
}
