//! A simulated device that loses what a power loss can lose (TigerBeetle's and FoundationDB's
//! approach): SIGKILL keeps the page cache, so only a device that forgets un-synced writes can
//! see a missing `fsync`.
//!
//! The device keeps real files (so recovery's reads and the memory maps of sealed segments see
//! what it holds) and, beside them, a model of what is durable:
//! - per file, its durable bytes and the set of 512-byte sectors written since its last
//!   `sync_data` (the volatile cache);
//! - the durable directory entries, and the ordered list of creates, renames, removes and
//!   `mkdir`s no directory sync covered yet.
//!
//! [`Sim::power_off_after`] makes the n-th next mutating operation fail, and every one after it:
//! the power is off. [`Sim::power_loss`] then rewrites the real files to a state a power loss can
//! leave: the durable directory entries plus a random prefix of the un-synced ones, and in each
//! surviving file its durable bytes plus a random subset of its un-synced sectors (so writes are
//! torn at sector boundaries and reordered), with either its durable or its current length.
//! Every choice comes from the seed, so a failure replays from it.
//!
//! Invariants:
//! - A sector is the unit of atomicity: a kept sector holds the bytes of one write, whole.
//! - Files the device did not create (present before it was made) are adopted as durable the
//!   first time they are opened; files created outside the device are never touched.
//! - Handles opened before a power loss fail afterwards (their epoch is over).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::{File, IoBuf, IoFuture, OpenMode, Storage};

/// Bytes a power loss keeps or loses together.
pub const SECTOR: u64 = 512;

/// The simulated device; clones share it. See the module documentation.
///
/// ```no_run
/// use quark_log::storage::Sim;
/// # glommio::LocalExecutor::default().run(async {
/// let sim = Sim::new(42);
/// let log = quark_log::Log::open_on("/tmp/sim-log", Default::default(), Box::new(sim.clone()))
///     .await
///     .unwrap();
/// let position = log.append_bytes(1, b"acknowledged").await.unwrap();
/// sim.power_off_after(0);
/// drop(log);
/// sim.power_loss().unwrap();
/// let log = quark_log::Log::open_on("/tmp/sim-log", Default::default(), Box::new(sim.clone()))
///     .await
///     .unwrap();
/// assert_eq!(log.read(position).unwrap().entries().next().unwrap().payload, b"acknowledged");
/// # });
/// ```
#[derive(Clone)]
pub struct Sim(Rc<RefCell<Model>>);

#[derive(Default)]
struct Node {
    current: Vec<u8>,
    durable: Vec<u8>,
    dirty: BTreeSet<u64>,
}

#[derive(Clone, Debug)]
enum DirOp {
    Create(PathBuf, u64),
    Rename(PathBuf, PathBuf),
    Remove(PathBuf),
    Mkdir(PathBuf),
}

impl DirOp {
    fn dir(&self) -> Option<&Path> {
        match self {
            DirOp::Create(p, _) | DirOp::Remove(p) | DirOp::Mkdir(p) | DirOp::Rename(_, p) => {
                p.parent()
            }
        }
    }
}

struct Model {
    rng: u64,
    epoch: u64,
    next_id: u64,
    nodes: HashMap<u64, Node>,
    names: BTreeMap<PathBuf, u64>,
    durable_names: BTreeMap<PathBuf, u64>,
    /// Directories the device created (durable or not) and those made durable.
    made_dirs: BTreeSet<PathBuf>,
    durable_dirs: BTreeSet<PathBuf>,
    pending: Vec<DirOp>,
    ops_left: Option<u64>,
    off: bool,
    ignore_syncs: bool,
    write_error: Option<i32>,
    syncs: u64,
}

fn powered_off() -> io::Error {
    io::Error::other("simulated power loss: the device is off")
}

fn apply(names: &mut BTreeMap<PathBuf, u64>, dirs: &mut BTreeSet<PathBuf>, op: &DirOp) {
    match op {
        DirOp::Create(p, id) => {
            names.insert(p.clone(), *id);
        }
        DirOp::Rename(from, to) => {
            if let Some(id) = names.remove(from) {
                names.insert(to.clone(), id);
            }
        }
        DirOp::Remove(p) => {
            names.remove(p);
        }
        DirOp::Mkdir(p) => {
            dirs.insert(p.clone());
        }
    }
}

impl Model {
    fn next_u64(&mut self) -> u64 {
        // splitmix64: small, seedable, good enough to pick subsets.
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn coin(&mut self) -> bool {
        self.next_u64() & 1 == 1
    }

    /// Counts one mutating operation; fails it (and every later one) once the power is off.
    fn tick(&mut self) -> io::Result<()> {
        if self.off {
            return Err(powered_off());
        }
        if let Some(n) = self.ops_left {
            if n == 0 {
                self.off = true;
                return Err(powered_off());
            }
            self.ops_left = Some(n - 1);
        }
        Ok(())
    }

    fn node(&mut self, id: u64, epoch: u64) -> io::Result<&mut Node> {
        if epoch != self.epoch {
            return Err(io::Error::other(
                "file handle from before a simulated power loss",
            ));
        }
        self.nodes
            .get_mut(&id)
            .ok_or_else(|| io::Error::other("simulated file vanished"))
    }

    fn write(&mut self, id: u64, epoch: u64, pos: u64, data: &[u8]) -> io::Result<()> {
        self.tick()?;
        if let Some(errno) = self.write_error {
            return Err(io::Error::from_raw_os_error(errno));
        }
        let node = self.node(id, epoch)?;
        let start = usize::try_from(pos).map_err(io::Error::other)?;
        let end = start + data.len();
        if node.current.len() < end {
            node.current.resize(end, 0);
        }
        node.current[start..end].copy_from_slice(data);
        if !data.is_empty() {
            node.dirty.extend(pos / SECTOR..=(end as u64 - 1) / SECTOR);
        }
        Ok(())
    }

    fn sync(&mut self, id: u64, epoch: u64) -> io::Result<()> {
        self.tick()?;
        self.syncs += 1;
        let ignore = self.ignore_syncs;
        let node = self.node(id, epoch)?;
        if ignore {
            return Ok(());
        }
        let Node {
            current,
            durable,
            dirty,
        } = node;
        durable.resize(current.len(), 0);
        for s in std::mem::take(dirty) {
            let a = (s * SECTOR) as usize;
            let b = (a + SECTOR as usize).min(current.len());
            if a < b {
                durable[a..b].copy_from_slice(&current[a..b]);
            }
        }
        Ok(())
    }

    fn sync_dir(&mut self, dir: &Path) -> io::Result<()> {
        self.tick()?;
        if self.ignore_syncs {
            return Ok(());
        }
        let (now, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|op| op.dir() == Some(dir));
        for op in &now {
            apply(&mut self.durable_names, &mut self.durable_dirs, op);
        }
        self.pending = later;
        Ok(())
    }

    /// The bytes a power loss leaves of `node`.
    fn survivor(&mut self, id: u64) -> Vec<u8> {
        let Some(node) = self.nodes.remove(&id) else {
            return Vec::new();
        };
        let len = if self.coin() {
            node.durable.len()
        } else {
            node.current.len()
        };
        let mut out = node.durable.clone();
        out.resize(len, 0);
        for &s in &node.dirty {
            if !self.coin() {
                continue;
            }
            let a = (s * SECTOR) as usize;
            let b = (a + SECTOR as usize).min(len).min(node.current.len());
            if a < b {
                out[a..b].copy_from_slice(&node.current[a..b]);
            }
        }
        self.nodes.insert(id, node);
        out
    }
}

impl Sim {
    /// A device whose power-loss choices all come from `seed`.
    pub fn new(seed: u64) -> Sim {
        Sim(Rc::new(RefCell::new(Model {
            rng: seed,
            epoch: 0,
            next_id: 0,
            nodes: HashMap::new(),
            names: BTreeMap::new(),
            durable_names: BTreeMap::new(),
            made_dirs: BTreeSet::new(),
            durable_dirs: BTreeSet::new(),
            pending: Vec::new(),
            ops_left: None,
            off: false,
            ignore_syncs: false,
            write_error: None,
            syncs: 0,
        })))
    }

    /// The power goes off at the `ops`-th next mutating operation (0: the next one): it and every
    /// later one fail without effect until [`Sim::power_loss`].
    pub fn power_off_after(&self, ops: u64) {
        let mut m = self.0.borrow_mut();
        if ops == 0 {
            m.off = true;
        } else {
            m.ops_left = Some(ops);
        }
    }

    /// Whether the power is off.
    pub fn is_off(&self) -> bool {
        self.0.borrow().off
    }

    /// Syncs completed (file and directory), for tests that count them.
    pub fn syncs(&self) -> u64 {
        self.0.borrow().syncs
    }

    /// Makes every sync a no-op that reports success: the device of a log whose `fsync` was
    /// removed. Tests use it to show the power-loss checks can fail.
    pub fn ignore_syncs(&self, ignore: bool) {
        self.0.borrow_mut().ignore_syncs = ignore;
    }

    /// Makes writes and allocations fail with OS error `errno` (e.g. `libc::ENOSPC`), or succeed
    /// again with `None`.
    pub fn fail_writes(&self, errno: Option<i32>) {
        self.0.borrow_mut().write_error = errno;
    }

    /// Cuts the power: rewrites the real files to what a power loss leaves (see the module
    /// documentation), then turns the power back on. Handles opened before fail afterwards.
    pub fn power_loss(&self) -> io::Result<()> {
        let mut m = self.0.borrow_mut();
        let pending = std::mem::take(&mut m.pending);
        let keep = (m.next_u64() % (pending.len() as u64 + 1)) as usize;
        let (mut names, mut dirs) = (m.durable_names.clone(), m.durable_dirs.clone());
        for op in &pending[..keep] {
            apply(&mut names, &mut dirs, op);
        }
        let lost_dirs: Vec<PathBuf> = m.made_dirs.difference(&dirs).cloned().collect();
        names.retain(|p, _| !lost_dirs.iter().any(|d| p.starts_with(d)));
        let touched: BTreeSet<PathBuf> = m
            .names
            .keys()
            .chain(m.durable_names.keys())
            .cloned()
            .collect();
        for p in &touched {
            match std::fs::remove_file(p) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        for d in lost_dirs.iter().rev() {
            match std::fs::remove_dir_all(d) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        let mut survivors = HashMap::new();
        for (path, &id) in &names {
            let bytes = m.survivor(id);
            std::fs::write(path, &bytes)?;
            survivors.insert(id, bytes);
        }
        m.nodes = survivors
            .into_iter()
            .map(|(id, bytes)| {
                let node = Node {
                    current: bytes.clone(),
                    durable: bytes,
                    dirty: BTreeSet::new(),
                };
                (id, node)
            })
            .collect();
        m.names = names.clone();
        m.durable_names = names;
        m.made_dirs = m.made_dirs.intersection(&dirs).cloned().collect();
        m.durable_dirs = dirs;
        m.epoch += 1;
        m.off = false;
        m.ops_left = None;
        Ok(())
    }

    async fn jitter(&self) {
        // Lets other tasks run between operations now and then, as a real device would.
        if self.0.borrow_mut().next_u64().is_multiple_of(4) {
            futures_lite::future::yield_now().await;
        }
    }

    fn open_now(&self, path: &Path, mode: OpenMode) -> io::Result<SimFile> {
        let mut m = self.0.borrow_mut();
        let mut o = std::fs::OpenOptions::new();
        o.read(true).write(true);
        if mode != OpenMode::Existing {
            m.tick()?;
        }
        let id = match (mode, m.names.get(path).copied()) {
            (OpenMode::Existing, Some(id)) => id,
            (OpenMode::Existing, None) => {
                // A file the device did not create: adopt it as durable.
                let bytes = std::fs::read(path)?;
                let id = m.next_id;
                m.next_id += 1;
                let node = Node {
                    current: bytes.clone(),
                    durable: bytes,
                    dirty: BTreeSet::new(),
                };
                m.nodes.insert(id, node);
                m.names.insert(path.to_path_buf(), id);
                m.durable_names.insert(path.to_path_buf(), id);
                id
            }
            (OpenMode::CreateNew, Some(_)) => {
                return Err(io::Error::from(io::ErrorKind::AlreadyExists));
            }
            (OpenMode::CreateTruncate, Some(id)) => {
                let epoch = m.epoch;
                let node = m.node(id, epoch)?;
                node.current.clear();
                node.dirty.clear();
                o.truncate(true);
                id
            }
            (_, None) => {
                let id = m.next_id;
                m.next_id += 1;
                m.nodes.insert(id, Node::default());
                m.names.insert(path.to_path_buf(), id);
                m.pending.push(DirOp::Create(path.to_path_buf(), id));
                o.create(true).truncate(true);
                id
            }
        };
        let real = o.open(path)?;
        Ok(SimFile {
            sim: self.clone(),
            id,
            epoch: m.epoch,
            real,
        })
    }
}

impl Storage for Sim {
    fn open<'a>(&'a self, path: &'a Path, mode: OpenMode) -> IoFuture<'a, Box<dyn File>> {
        Box::pin(async move {
            self.jitter().await;
            Ok(Box::new(self.open_now(path, mode)?) as Box<dyn File>)
        })
    }

    fn rename<'a>(&'a self, from: &'a Path, to: &'a Path) -> IoFuture<'a, ()> {
        Box::pin(async move {
            self.jitter().await;
            let mut m = self.0.borrow_mut();
            m.tick()?;
            std::fs::rename(from, to)?;
            let op = DirOp::Rename(from.to_path_buf(), to.to_path_buf());
            let Model {
                names, made_dirs, ..
            } = &mut *m;
            apply(names, made_dirs, &op);
            m.pending.push(op);
            Ok(())
        })
    }

    fn remove<'a>(&'a self, path: &'a Path) -> IoFuture<'a, ()> {
        Box::pin(async move {
            self.jitter().await;
            let mut m = self.0.borrow_mut();
            m.tick()?;
            std::fs::remove_file(path)?;
            m.names.remove(path);
            m.pending.push(DirOp::Remove(path.to_path_buf()));
            Ok(())
        })
    }

    fn sync_dir<'a>(&'a self, dir: &'a Path) -> IoFuture<'a, ()> {
        Box::pin(async move {
            self.jitter().await;
            let mut m = self.0.borrow_mut();
            m.sync_dir(dir)?;
            m.syncs += 1;
            Ok(())
        })
    }

    fn create_dir_all<'a>(&'a self, dir: &'a Path) -> IoFuture<'a, ()> {
        Box::pin(async move {
            self.jitter().await;
            let mut m = self.0.borrow_mut();
            let mut missing = Vec::new();
            let mut at = Some(dir);
            while let Some(d) = at.filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
                missing.push(d.to_path_buf());
                at = d.parent();
            }
            for d in missing.into_iter().rev() {
                m.tick()?;
                std::fs::create_dir(&d)?;
                m.made_dirs.insert(d.clone());
                m.pending.push(DirOp::Mkdir(d));
            }
            Ok(())
        })
    }

    fn list<'a>(&'a self, dir: &'a Path) -> IoFuture<'a, Vec<String>> {
        Box::pin(async move {
            self.jitter().await;
            let mut names = Vec::new();
            for entry in std::fs::read_dir(dir)? {
                if let Ok(name) = entry?.file_name().into_string() {
                    names.push(name);
                }
            }
            Ok(names)
        })
    }
}

/// A file of the simulated device: the real file, and its node in the model.
struct SimFile {
    sim: Sim,
    id: u64,
    epoch: u64,
    real: std::fs::File,
}

impl SimFile {
    fn write_now(&self, pos: u64, data: &[u8]) -> io::Result<()> {
        self.sim
            .0
            .borrow_mut()
            .write(self.id, self.epoch, pos, data)?;
        self.real.write_all_at(data, pos)
    }
}

impl File for SimFile {
    fn alloc(&self, len: usize) -> IoBuf {
        IoBuf::heap(len)
    }

    fn write_at(&self, buf: IoBuf, pos: u64) -> IoFuture<'_, usize> {
        Box::pin(async move {
            self.sim.jitter().await;
            self.write_now(pos, buf.as_bytes())?;
            Ok(buf.len())
        })
    }

    fn write_zeros(&self, pos: u64, len: u64) -> IoFuture<'_, ()> {
        Box::pin(async move {
            self.sim.jitter().await;
            let len = usize::try_from(len).map_err(io::Error::other)?;
            self.write_now(pos, &vec![0; len])
        })
    }

    fn read_at(&self, pos: u64, len: usize) -> IoFuture<'_, Vec<u8>> {
        Box::pin(async move {
            let mut buf = vec![0; len];
            let mut got = 0;
            while got < len {
                match self.real.read_at(&mut buf[got..], pos + got as u64)? {
                    0 => break,
                    n => got += n,
                }
            }
            buf.truncate(got);
            Ok(buf)
        })
    }

    fn sync_data(&self) -> IoFuture<'_, ()> {
        Box::pin(async move {
            self.sim.jitter().await;
            self.sim.0.borrow_mut().sync(self.id, self.epoch)
        })
    }

    fn allocate(&self, len: u64) -> IoFuture<'_, ()> {
        Box::pin(async move {
            self.sim.jitter().await;
            let mut m = self.sim.0.borrow_mut();
            m.tick()?;
            if let Some(errno) = m.write_error {
                return Err(io::Error::from_raw_os_error(errno));
            }
            let node = m.node(self.id, self.epoch)?;
            let len_now = usize::try_from(len).map_err(io::Error::other)?;
            if node.current.len() < len_now {
                node.current.resize(len_now, 0);
                self.real.set_len(len)?;
            }
            Ok(())
        })
    }

    fn truncate(&self, len: u64) -> IoFuture<'_, ()> {
        Box::pin(async move {
            self.sim.jitter().await;
            let mut m = self.sim.0.borrow_mut();
            m.tick()?;
            let node = m.node(self.id, self.epoch)?;
            let n = usize::try_from(len).map_err(io::Error::other)?;
            node.current.resize(n, 0);
            // The new length is volatile until a sync; mark the boundary sector dirty so a power
            // loss may keep either length.
            node.dirty.insert(len / SECTOR);
            self.real.set_len(len)
        })
    }

    fn size(&self) -> IoFuture<'_, u64> {
        Box::pin(async move { Ok(self.real.metadata()?.len()) })
    }

    fn close(self: Box<Self>) -> IoFuture<'static, ()> {
        Box::pin(async move { Ok(()) })
    }
}
