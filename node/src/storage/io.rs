//! The storage-I/O boundary: the small trait every storage file access goes through.
//!
//! The engine (write-ahead log, B+tree, checkpoints) never touches glommio, std files or
//! sockets directly. It sees a [`Disk`] that opens [`DiskFile`]s and offers positioned,
//! block-aligned reads and writes plus `fdatasync`. Two implementations exist:
//! [`super::dma::DmaDisk`] (glommio O_DIRECT files, production) and [`super::sim::SimDisk`]
//! (in memory, with lost unsynced writes, torn sectors and injected errors, for tests and the
//! simulator).
//!
//! Invariants kept here: every offset and length handed to a `DiskFile` is a multiple of
//! [`BLOCK_SIZE`]; a single I/O is at most [`IO_SIZE_MAX`] bytes (glommio #633: larger
//! single I/Os hung processes in D state); a write either writes every byte or fails.
//!
//! Also here: the fail-stop [`Latch`]. The first failed write or fsync trips it, and from
//! then on every storage call of that shard fails with the original reason. Nothing ever
//! retries an fsync (after an fsync error the kernel may have dropped the dirty data).

use std::cell::RefCell;
use std::io;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::error::StorageError;

/// Alignment and granularity of every disk I/O, whatever the device reports: 4Kn drives
/// require it, and data files must stay readable after moving to another device.
pub const BLOCK_SIZE: usize = 4096;

/// The largest single read or write handed to the kernel (RUNTIME-NOTES pitfall 6).
pub const IO_SIZE_MAX: usize = 128 * 1024;

const _: () = assert!(IO_SIZE_MAX.is_multiple_of(BLOCK_SIZE));

/// An aligned, owned buffer that can be written to a [`DiskFile`].
pub trait IoBuf: Deref<Target = [u8]> + DerefMut {}

/// A filesystem as the storage engine sees it. Cheap to clone (a handle).
#[allow(async_fn_in_trait)]
pub trait Disk: Clone + 'static {
    /// Files opened on this disk.
    type File: DiskFile<Buf = Self::Buf>;
    /// Aligned buffers for writes.
    type Buf: IoBuf;

    /// A zeroed buffer of `len` bytes (`len` a multiple of [`BLOCK_SIZE`]), aligned for
    /// direct I/O.
    fn alloc(&self, len: usize) -> Self::Buf;

    /// Opens `path` for reading and writing, creating it when `create` is set. Creating a
    /// file is not durable until [`Disk::sync_dir`] on its directory.
    async fn open(&self, path: &Path, create: bool) -> io::Result<Self::File>;

    /// Opens the existing file `path` for reading and for synced writes: a write to it
    /// resolves once its bytes are durable (`O_DSYNC`), as a write followed by
    /// [`DiskFile::fdatasync`] would, in one I/O. The log writes its flushes this way (see
    /// `wal::log`).
    async fn open_synced(&self, path: &Path) -> io::Result<Self::File>;

    /// Makes the directory entries of `dir` (creations, renames, removals) durable.
    async fn sync_dir(&self, dir: &Path) -> io::Result<()>;

    /// Renames a file (not durable until [`Disk::sync_dir`]).
    async fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;

    /// Removes a file (not durable until [`Disk::sync_dir`]).
    async fn remove(&self, path: &Path) -> io::Result<()>;

    /// Creates a directory and its parents, durably.
    async fn create_dir_all(&self, dir: &Path) -> io::Result<()>;

    /// The names of the regular files in `dir`, sorted.
    async fn list(&self, dir: &Path) -> io::Result<Vec<String>>;

    /// Whether `path` exists.
    async fn exists(&self, path: &Path) -> io::Result<bool>;
}

/// One open file. Offsets and lengths are multiples of [`BLOCK_SIZE`]; single I/Os are at
/// most [`IO_SIZE_MAX`] bytes.
#[allow(async_fn_in_trait)]
pub trait DiskFile: 'static {
    /// The buffer type writes take.
    type Buf: IoBuf;
    /// What a read returns: the bytes, which may be fewer than asked at end of file.
    type ReadBuf: Deref<Target = [u8]>;

    /// Reads up to `len` bytes at `pos`; fewer only at end of file.
    async fn read_at(&self, pos: u64, len: usize) -> io::Result<Self::ReadBuf>;

    /// Writes the whole buffer at `pos`, or fails. Not durable until [`DiskFile::fdatasync`].
    async fn write_at(&self, buf: Self::Buf, pos: u64) -> io::Result<()>;

    /// Makes every completed write (and the file length) durable.
    async fn fdatasync(&self) -> io::Result<()>;

    /// The current file length in bytes.
    async fn size(&self) -> io::Result<u64>;

    /// Sets the file length (not durable until [`DiskFile::fdatasync`]).
    async fn truncate(&self, len: u64) -> io::Result<()>;
}

/// Fail-stop latch of one shard's storage. Cloned into every component of the shard.
#[derive(Clone, Default)]
pub struct Latch {
    reason: Rc<RefCell<Option<String>>>,
}

impl Latch {
    /// A latch that has not tripped.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fails with [`StorageError::Failed`] if the latch has tripped.
    pub fn check(&self) -> Result<(), StorageError> {
        match &*self.reason.borrow() {
            Some(reason) => Err(StorageError::Failed(reason.clone())),
            None => Ok(()),
        }
    }

    /// Whether the latch has tripped.
    pub fn is_tripped(&self) -> bool {
        self.reason.borrow().is_some()
    }

    /// Trips the latch (the first reason wins) and returns the error to hand the caller.
    pub fn trip(&self, op: &'static str, path: &Path, err: &io::Error) -> StorageError {
        let mut reason = self.reason.borrow_mut();
        if reason.is_none() {
            let text = format!("{op} failed on {}: {err}", path.display());
            tracing::error!(reason = %text, "storage is fail-stopped; restart the node");
            *reason = Some(text);
        }
        StorageError::Failed(reason.clone().expect("set above"))
    }
}

/// A file handle that knows its path and its shard's latch: reads map errors to
/// [`StorageError::Io`], writes and syncs trip the latch on error.
pub struct File<D: Disk> {
    inner: D::File,
    path: PathBuf,
    latch: Latch,
    synced: bool,
}

impl<D: Disk> File<D> {
    /// Opens (or creates) `path` on `disk`.
    pub async fn open(
        disk: &D,
        path: &Path,
        create: bool,
        latch: &Latch,
    ) -> Result<Self, StorageError> {
        latch.check()?;
        Self::opened(disk.open(path, create).await, path, latch, false)
    }

    /// Opens the existing file `path` for synced writes ([`Disk::open_synced`]): every
    /// [`File::write`] that succeeds is durable.
    pub async fn open_synced(disk: &D, path: &Path, latch: &Latch) -> Result<Self, StorageError> {
        latch.check()?;
        Self::opened(disk.open_synced(path).await, path, latch, true)
    }

    fn opened(
        inner: io::Result<D::File>,
        path: &Path,
        latch: &Latch,
        synced: bool,
    ) -> Result<Self, StorageError> {
        Ok(Self {
            inner: inner.map_err(|e| StorageError::io("open", path, e))?,
            path: path.to_path_buf(),
            latch: latch.clone(),
            synced,
        })
    }

    /// Whether writes to this file are durable when they complete.
    pub fn is_synced(&self) -> bool {
        self.synced
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads up to `len` bytes at `pos`, split into I/Os of at most [`IO_SIZE_MAX`].
    pub async fn read(&self, pos: u64, len: usize) -> Result<Vec<u8>, StorageError> {
        self.latch.check()?;
        check_aligned(pos, len);
        let mut out = Vec::with_capacity(len);
        let mut done = 0usize;
        while done < len {
            let chunk = (len - done).min(IO_SIZE_MAX);
            let buf = self
                .inner
                .read_at(pos + done as u64, chunk)
                .await
                .map_err(|e| StorageError::io("read", &self.path, e))?;
            let got = buf.len().min(chunk);
            out.extend_from_slice(&buf[..got]);
            done += got;
            if got < chunk {
                break;
            }
        }
        Ok(out)
    }

    /// Reads at most [`IO_SIZE_MAX`] bytes at `pos` without copying.
    pub async fn read_one(
        &self,
        pos: u64,
        len: usize,
    ) -> Result<<D::File as DiskFile>::ReadBuf, StorageError> {
        self.latch.check()?;
        check_aligned(pos, len);
        assert!(
            len <= IO_SIZE_MAX,
            "read of {len} bytes exceeds {IO_SIZE_MAX}"
        );
        self.inner
            .read_at(pos, len)
            .await
            .map_err(|e| StorageError::io("read", &self.path, e))
    }

    /// Writes one buffer of at most [`IO_SIZE_MAX`] bytes at `pos` (durable when it
    /// resolves if the file [`File::is_synced`]); an error trips the latch.
    pub async fn write(&self, buf: D::Buf, pos: u64) -> Result<(), StorageError> {
        self.latch.check()?;
        check_aligned(pos, buf.len());
        assert!(
            buf.len() <= IO_SIZE_MAX,
            "write of {} bytes exceeds {IO_SIZE_MAX}",
            buf.len()
        );
        self.inner
            .write_at(buf, pos)
            .await
            .map_err(|e| self.latch.trip("write", &self.path, &e))
    }

    /// `fdatasync`; an error trips the latch and is never retried.
    pub async fn sync(&self) -> Result<(), StorageError> {
        self.latch.check()?;
        self.inner
            .fdatasync()
            .await
            .map_err(|e| self.latch.trip("fdatasync", &self.path, &e))
    }

    /// The file length.
    pub async fn size(&self) -> Result<u64, StorageError> {
        self.latch.check()?;
        self.inner
            .size()
            .await
            .map_err(|e| StorageError::io("stat", &self.path, e))
    }

    /// Sets the file length; an error trips the latch.
    pub async fn truncate(&self, len: u64) -> Result<(), StorageError> {
        self.latch.check()?;
        self.inner
            .truncate(len)
            .await
            .map_err(|e| self.latch.trip("truncate", &self.path, &e))
    }
}

fn check_aligned(pos: u64, len: usize) {
    assert!(
        pos.is_multiple_of(BLOCK_SIZE as u64),
        "I/O offset {pos} not aligned to {BLOCK_SIZE}"
    );
    assert!(
        len.is_multiple_of(BLOCK_SIZE),
        "I/O length {len} not aligned to {BLOCK_SIZE}"
    );
}

/// Rounds `n` up to a multiple of [`BLOCK_SIZE`].
pub const fn align_up(n: usize) -> usize {
    n.div_ceil(BLOCK_SIZE) * BLOCK_SIZE
}

/// Directory operations that trip the latch on failure (a lost directory entry is as bad
/// as a lost write).
pub async fn sync_dir<D: Disk>(disk: &D, dir: &Path, latch: &Latch) -> Result<(), StorageError> {
    latch.check()?;
    disk.sync_dir(dir)
        .await
        .map_err(|e| latch.trip("directory fsync", dir, &e))
}
