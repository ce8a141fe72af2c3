//! The real device: O_DIRECT files on glommio (io_uring) and directory operations on glommio's
//! blocking thread pool.
//!
//! Invariants:
//! - Nothing here blocks the calling (shard) thread: file I/O is io_uring, and the operations
//!   io_uring lacks in glommio (path rename and remove, directory `fsync`, listing) run through
//!   `spawn_blocking`.
//! - `sync_dir` is a full `fsync` of the directory: glommio's `Directory::sync` is `fdatasync`,
//!   which the kernel may treat as not covering directory entries on some file systems.

use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use glommio::io::{DmaFile, OpenOptions};

use super::{Buf, File, IoBuf, IoFuture, OpenMode, Storage};

/// The real device (see the module documentation). Must be used on a glommio executor.
#[derive(Clone, Copy, Debug, Default)]
pub struct Device;

fn gio(e: glommio::GlommioError<()>) -> io::Error {
    io::Error::from(e)
}

/// Runs blocking `f` on glommio's blocking pool, off the shard thread.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    glommio::executor().spawn_blocking(f).await
}

impl Storage for Device {
    fn open<'a>(&'a self, path: &'a Path, mode: OpenMode) -> IoFuture<'a, Box<dyn File>> {
        Box::pin(async move {
            let mut o = OpenOptions::new();
            o.read(true).write(true);
            match mode {
                OpenMode::Existing => {}
                OpenMode::CreateNew => {
                    o.create_new(true);
                }
                OpenMode::CreateTruncate => {
                    o.create(true).truncate(true);
                }
            }
            let file = o.dma_open(path).await.map_err(gio)?;
            Ok(Box::new(DeviceFile(file)) as Box<dyn File>)
        })
    }

    fn rename<'a>(&'a self, from: &'a Path, to: &'a Path) -> IoFuture<'a, ()> {
        let (from, to) = (from.to_path_buf(), to.to_path_buf());
        Box::pin(blocking(move || std::fs::rename(from, to)))
    }

    fn remove<'a>(&'a self, path: &'a Path) -> IoFuture<'a, ()> {
        let path = path.to_path_buf();
        Box::pin(blocking(move || std::fs::remove_file(path)))
    }

    fn sync_dir<'a>(&'a self, dir: &'a Path) -> IoFuture<'a, ()> {
        let dir = dir.to_path_buf();
        Box::pin(blocking(move || std::fs::File::open(dir)?.sync_all()))
    }

    fn create_dir_all<'a>(&'a self, dir: &'a Path) -> IoFuture<'a, ()> {
        let dir = dir.to_path_buf();
        Box::pin(blocking(move || std::fs::create_dir_all(dir)))
    }

    fn list<'a>(&'a self, dir: &'a Path) -> IoFuture<'a, Vec<String>> {
        let dir: PathBuf = dir.to_path_buf();
        Box::pin(blocking(move || {
            let mut names = Vec::new();
            for entry in std::fs::read_dir(dir)? {
                if let Ok(name) = entry?.file_name().into_string() {
                    names.push(name);
                }
            }
            Ok(names)
        }))
    }
}

/// An O_DIRECT file of the real device.
struct DeviceFile(DmaFile);

/// Zero-fill chunk: one DMA buffer of this size is reused for every chunk.
const ZERO_CHUNK: u64 = 1 << 20;

impl File for DeviceFile {
    fn alloc(&self, len: usize) -> IoBuf {
        IoBuf::dma(self.0.alloc_dma_buffer(len))
    }

    fn write_at(&self, buf: IoBuf, pos: u64) -> IoFuture<'_, usize> {
        Box::pin(async move {
            let dma = match buf.0 {
                Buf::Dma(b) => b,
                Buf::Heap(v) => {
                    let mut b = self.0.alloc_dma_buffer(v.len());
                    b.as_bytes_mut().copy_from_slice(&v);
                    b
                }
            };
            self.0.write_at(dma, pos).await.map_err(gio)
        })
    }

    fn write_zeros(&self, pos: u64, len: u64) -> IoFuture<'_, ()> {
        Box::pin(async move {
            let mut zeros = self.0.alloc_dma_buffer(ZERO_CHUNK.min(len) as usize);
            zeros.as_bytes_mut().fill(0);
            let zeros = Rc::new(zeros);
            let end = pos + len;
            let mut at = pos;
            while at < end {
                // The last chunk is cut to size: zero-filling never writes past `end`.
                let chunk = if end - at < ZERO_CHUNK.min(len) {
                    let mut last = self.0.alloc_dma_buffer((end - at) as usize);
                    last.as_bytes_mut().fill(0);
                    Rc::new(last)
                } else {
                    zeros.clone()
                };
                let n = self.0.write_rc_at(chunk, at).await.map_err(gio)?;
                if n == 0 {
                    return Err(io::Error::new(io::ErrorKind::WriteZero, "wrote 0 bytes"));
                }
                at += n as u64;
            }
            Ok(())
        })
    }

    fn read_at(&self, pos: u64, len: usize) -> IoFuture<'_, Vec<u8>> {
        Box::pin(async move {
            let r = self.0.read_at(pos, len).await.map_err(gio)?;
            Ok(r.to_vec())
        })
    }

    fn sync_data(&self) -> IoFuture<'_, ()> {
        Box::pin(async move { self.0.fdatasync().await.map_err(gio) })
    }

    fn allocate(&self, len: u64) -> IoFuture<'_, ()> {
        Box::pin(async move { self.0.pre_allocate(len, false).await.map_err(gio) })
    }

    fn truncate(&self, len: u64) -> IoFuture<'_, ()> {
        Box::pin(async move { self.0.truncate(len).await.map_err(gio) })
    }

    fn size(&self) -> IoFuture<'_, u64> {
        Box::pin(async move { self.0.file_size().await.map_err(gio) })
    }

    fn close(self: Box<Self>) -> IoFuture<'static, ()> {
        Box::pin(async move { self.0.close().await.map_err(gio) })
    }
}
