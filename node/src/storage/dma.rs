//! The production [`Disk`]: glommio DMA files (O_DIRECT, io_uring), one per shard thread.
//!
//! Invariant: a `DmaDisk` is created with [`DmaDisk::new`], which first opens a non-empty
//! probe file in the data directory. glommio decides once per thread whether a device takes
//! polled I/O by reading the first DMA file the thread opens; an empty first file makes that
//! probe succeed wrongly and every later read fails with EOPNOTSUPP (RUNTIME-NOTES E3,
//! pitfall 2). Creating the disk handle is therefore the first thing a shard does.
//!
//! Does not cache, retry or reorder anything: the engine above decides all of that.

use std::io;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use glommio::io::{DmaBuffer, DmaFile, OpenOptions, ReadResult};

use super::io::{BLOCK_SIZE, Disk, DiskFile, IoBuf};

/// Name of the probe file every shard opens first.
pub const PROBE_FILE_NAME: &str = "probe";

/// glommio DMA files under one data directory. Holds an exclusive lock on the directory's
/// probe file for as long as any clone lives, so two engines (in one process or two) can
/// never open the same shard directory at once.
#[derive(Clone)]
pub struct DmaDisk {
    _probe: Rc<DmaFile>,
    _lock: Rc<std::fs::File>,
}

impl DmaDisk {
    /// Opens the probe file in `dir` (creating `dir` and the probe if needed) so that
    /// glommio's per-thread iopoll probe reads real data. Call on the shard's own thread,
    /// before any other DMA file is opened there.
    pub async fn new(dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(PROBE_FILE_NAME);
        let needs_content = std::fs::metadata(&path).map(|m| m.len() < BLOCK_SIZE as u64);
        if needs_content.unwrap_or(true) {
            std::fs::write(&path, [0x5a_u8; BLOCK_SIZE])?;
            std::fs::File::open(&path)?.sync_all()?;
            std::fs::File::open(dir)?.sync_all()?;
        }
        let lock = std::fs::File::open(&path)?;
        if let Err(e) = lock.try_lock() {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!(
                    "data directory {} is in use by another Shoal process or engine ({e})",
                    dir.display()
                ),
            ));
        }
        let probe = OpenOptions::new()
            .read(true)
            .write(true)
            .dma_open(&path)
            .await
            .map_err(io::Error::from)
            .map_err(|e| with_hint(e, dir))?;
        let read = probe
            .read_at_aligned(0, BLOCK_SIZE)
            .await
            .map_err(io::Error::from)?;
        if read.len() != BLOCK_SIZE {
            return Err(io::Error::other(format!(
                "probe file {} is shorter than {BLOCK_SIZE} bytes",
                path.display()
            )));
        }
        Ok(Self {
            _probe: Rc::new(probe),
            _lock: Rc::new(lock),
        })
    }
}

fn with_hint(err: io::Error, dir: &Path) -> io::Error {
    if err.raw_os_error() == Some(libc::EINVAL) {
        return io::Error::new(
            err.kind(),
            format!(
                "O_DIRECT is not supported under {}: use ext4 or xfs ({err})",
                dir.display()
            ),
        );
    }
    err
}

/// An aligned DMA buffer.
pub struct DmaBuf(DmaBuffer);

impl Deref for DmaBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl DerefMut for DmaBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.0.as_bytes_mut()
    }
}

impl IoBuf for DmaBuf {}

/// A glommio DMA file.
pub struct DmaDiskFile {
    file: DmaFile,
    path: PathBuf,
}

impl Disk for DmaDisk {
    type File = DmaDiskFile;
    type Buf = DmaBuf;

    fn alloc(&self, len: usize) -> DmaBuf {
        let mut buf = glommio::allocate_dma_buffer(len);
        buf.as_bytes_mut().fill(0);
        DmaBuf(buf)
    }

    async fn open(&self, path: &Path, create: bool) -> io::Result<DmaDiskFile> {
        open_dma(path, create, 0).await
    }

    async fn open_synced(&self, path: &Path) -> io::Result<DmaDiskFile> {
        // virtio-blk and most SSDs lack FUA, so the kernel follows each write with a cache
        // flush itself (ext4/xfs direct I/O: the block is already allocated and written, so
        // no metadata has to go along): the same durability as write + fdatasync, in one
        // io_uring request instead of two completions the shard must reap in turn.
        open_dma(path, false, libc::O_DSYNC).await
    }

    async fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let d = glommio::io::Directory::open(dir)
            .await
            .map_err(io::Error::from)?;
        d.sync().await.map_err(io::Error::from)?;
        d.close().await.map_err(io::Error::from)
    }

    async fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        glommio::io::rename(from, to).await.map_err(io::Error::from)
    }

    async fn remove(&self, path: &Path) -> io::Result<()> {
        glommio::io::remove(path).await.map_err(io::Error::from)
    }

    async fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::File::open(dir)?.sync_all()?;
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::File::open(parent)?.sync_all()?;
        }
        Ok(())
    }

    async fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        list_files(dir)
    }

    async fn exists(&self, path: &Path) -> io::Result<bool> {
        path.try_exists()
    }
}

/// Opens `path` for direct reads and writes with the extra open `flags`.
async fn open_dma(path: &Path, create: bool, flags: libc::c_int) -> io::Result<DmaDiskFile> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(create)
        .custom_flags(flags)
        .dma_open(path)
        .await
        .map_err(io::Error::from)?;
    Ok(DmaDiskFile {
        file,
        path: path.to_path_buf(),
    })
}

/// Sorted names of the regular files in `dir`.
pub(crate) fn list_files(dir: &Path) -> io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file()
            && let Some(name) = entry.file_name().to_str()
        {
            names.push(name.to_string());
        }
    }
    names.sort();
    Ok(names)
}

impl DiskFile for DmaDiskFile {
    type Buf = DmaBuf;
    type ReadBuf = ReadResult;

    async fn read_at(&self, pos: u64, len: usize) -> io::Result<ReadResult> {
        self.file
            .read_at_aligned(pos, len)
            .await
            .map_err(io::Error::from)
    }

    async fn write_at(&self, buf: DmaBuf, pos: u64) -> io::Result<()> {
        let len = buf.len();
        let written = self
            .file
            .write_at(buf.0, pos)
            .await
            .map_err(io::Error::from)?;
        if written != len {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!(
                    "short write of {written} of {len} bytes at {pos} in {} (disk full?)",
                    self.path.display()
                ),
            ));
        }
        Ok(())
    }

    async fn fdatasync(&self) -> io::Result<()> {
        self.file.fdatasync().await.map_err(io::Error::from)
    }

    async fn size(&self) -> io::Result<u64> {
        self.file.file_size().await.map_err(io::Error::from)
    }

    async fn truncate(&self, len: u64) -> io::Result<()> {
        self.file.truncate(len).await.map_err(io::Error::from)
    }
}
