//! The storage seam: every file and directory operation the log performs that changes what is
//! on disk (and the reads recovery does through file handles) goes through [`Storage`].
//!
//! Two devices implement it:
//! - [`Device`], the real one: O_DIRECT files on glommio (io_uring), and directory operations
//!   (rename, remove, list, directory `fsync`) on glommio's blocking thread pool, so none of
//!   them blocks a shard thread.
//! - [`Sim`], a simulated device for tests: every write not yet covered by a sync sits in a
//!   volatile cache, and at a seeded power loss it keeps an arbitrary subset of those sectors
//!   and drops directory entries no directory sync covered (see `sim`).
//!
//! The contract, which both devices keep and the log relies on:
//! 1. Bytes written with [`File::write_at`] are durable once a later [`File::sync_data`] on the
//!    same file returned `Ok`; before that a power loss may keep any subset of their sectors.
//! 2. A file's length (and allocation) is durable once a later `sync_data` returned `Ok`.
//! 3. A directory entry made or removed by `open` (create), `rename` or `remove` is durable once
//!    a later [`Storage::sync_dir`] of its directory returned `Ok` (a full `fsync`, not
//!    `fdatasync`). Until then a power loss may undo it (and the entries made after it).
//! 4. An operation that returns `Err` may or may not have taken effect.
//! 5. Reads see every completed write, synced or not (the page cache).
//!
//! Sealed segments are read through memory maps (`segment::mmap`), not through this seam: both
//! devices keep the files they manage as real files, so a map sees what the device holds.

mod device;
pub mod sim;

use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::Pin;

pub use device::Device;
pub use sim::Sim;

/// A boxed, executor-local future of an I/O result.
pub type IoFuture<'a, T> = Pin<Box<dyn Future<Output = io::Result<T>> + 'a>>;

/// How [`Storage::open`] opens a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenMode {
    /// An existing file, for reading and writing.
    Existing,
    /// A new file; fails if the name exists.
    CreateNew,
    /// A new file, or an existing one truncated to zero bytes.
    CreateTruncate,
}

/// The file system operations the log performs. One instance serves one executor (`!Send`).
///
/// ```no_run
/// # glommio::LocalExecutor::default().run(async {
/// use quark_log::storage::{Device, OpenMode, Storage};
/// let device = Device;
/// let file = device.open("/tmp/x/a.tmp".as_ref(), OpenMode::CreateTruncate).await.unwrap();
/// let mut buf = file.alloc(4096);
/// buf.as_bytes_mut().fill(7);
/// file.write_at(buf, 0).await.unwrap();
/// file.sync_data().await.unwrap();
/// file.close().await.unwrap();
/// device.rename("/tmp/x/a.tmp".as_ref(), "/tmp/x/a".as_ref()).await.unwrap();
/// device.sync_dir("/tmp/x".as_ref()).await.unwrap();
/// # });
/// ```
pub trait Storage {
    /// Opens (or creates, see [`OpenMode`]) the file at `path`.
    fn open<'a>(&'a self, path: &'a Path, mode: OpenMode) -> IoFuture<'a, Box<dyn File>>;
    /// Renames `from` to `to`, replacing `to` if it exists.
    fn rename<'a>(&'a self, from: &'a Path, to: &'a Path) -> IoFuture<'a, ()>;
    /// Removes the file at `path`.
    fn remove<'a>(&'a self, path: &'a Path) -> IoFuture<'a, ()>;
    /// Makes the entries of directory `dir` durable (a full `fsync` of the directory).
    fn sync_dir<'a>(&'a self, dir: &'a Path) -> IoFuture<'a, ()>;
    /// Creates directory `dir` (and missing parents).
    fn create_dir_all<'a>(&'a self, dir: &'a Path) -> IoFuture<'a, ()>;
    /// The names of the entries of directory `dir`, in no particular order.
    fn list<'a>(&'a self, dir: &'a Path) -> IoFuture<'a, Vec<String>>;
}

/// An open file of a [`Storage`]. Offsets and lengths of writes are multiples of 4096.
pub trait File {
    /// A buffer of `len` bytes suited to this file's writes (DMA-aligned on the device). Its
    /// contents are unspecified: callers fill all of it.
    fn alloc(&self, len: usize) -> IoBuf;
    /// Writes all of `buf` at `pos`; returns the bytes written.
    fn write_at(&self, buf: IoBuf, pos: u64) -> IoFuture<'_, usize>;
    /// Writes `len` zero bytes from `pos` on (allocating the range).
    fn write_zeros(&self, pos: u64, len: u64) -> IoFuture<'_, ()>;
    /// Reads up to `len` bytes at `pos` (fewer at the end of the file).
    fn read_at(&self, pos: u64, len: usize) -> IoFuture<'_, Vec<u8>>;
    /// Makes the file's written bytes and its length durable (`fdatasync`).
    fn sync_data(&self) -> IoFuture<'_, ()>;
    /// Allocates the file up to `len` bytes (`fallocate`), growing its length.
    fn allocate(&self, len: u64) -> IoFuture<'_, ()>;
    /// Sets the file's length (cutting or zero-extending it); durable like a write.
    fn truncate(&self, len: u64) -> IoFuture<'_, ()>;
    /// The file's current length.
    fn size(&self) -> IoFuture<'_, u64>;
    /// Releases the descriptor. Durability is unaffected: only `sync_data` makes bytes durable.
    fn close(self: Box<Self>) -> IoFuture<'static, ()>;
}

/// A write buffer: DMA memory for the real device, plain memory for the simulated one.
pub struct IoBuf(Buf);

enum Buf {
    Dma(glommio::io::DmaBuffer),
    Heap(Vec<u8>),
}

impl IoBuf {
    /// A zeroed buffer in ordinary memory.
    pub fn heap(len: usize) -> IoBuf {
        IoBuf(Buf::Heap(vec![0; len]))
    }

    pub(crate) fn dma(b: glommio::io::DmaBuffer) -> IoBuf {
        IoBuf(Buf::Dma(b))
    }

    /// The buffer's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Buf::Dma(b) => b.as_bytes(),
            Buf::Heap(v) => v,
        }
    }

    /// The buffer's bytes, to fill.
    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        match &mut self.0 {
            Buf::Dma(b) => b.as_bytes_mut(),
            Buf::Heap(v) => v,
        }
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// Whether the buffer holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
