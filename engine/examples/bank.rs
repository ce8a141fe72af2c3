//! A bank on Quark's journal: event-sourced accounts (deposit, withdraw with an invariant
//! check: no overdraft), and account statements kept by a projection over all shards.
//!
//! The statements are a managed [`Projection`]: it runs on every shard, keeps its statements
//! in memory and commits them together with its checkpoint (one log record), so after the
//! restart in the middle of this example it resumes with exactly the statements it had
//! committed and applies every later event once.
//!
//! Run: `cargo run -p quark --example bank [DATA_DIR]` (a temporary directory by default).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use quark::journal::{Event, EventSourced, Filter, Projection};
use quark::{Actor, ActorError, Builder, Context, Engine, Handler, Message};

/// An account's folded state.
#[derive(Debug, Default, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
struct Balance {
    cents: i64,
}

/// What happens to an account.
#[derive(Debug, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
enum Txn {
    Deposited(i64),
    Withdrawn(i64),
}

struct Account {
    balance: Balance,
}

impl Actor for Account {
    type Key = String;
    async fn on_activate(ctx: &mut Context<Self>) -> Result<Self, ActorError> {
        Ok(Account {
            balance: ctx.recover().await?,
        })
    }
}

impl EventSourced for Account {
    type State = Balance;
    type Event = Txn;
    const CATEGORY: &'static str = "account";
    fn apply(state: &mut Balance, event: &Txn) {
        match event {
            Txn::Deposited(c) => state.cents += c,
            Txn::Withdrawn(c) => state.cents -= c,
        }
    }
    fn event_type(event: &Txn) -> &'static str {
        match event {
            Txn::Deposited(_) => "Deposited",
            Txn::Withdrawn(_) => "Withdrawn",
        }
    }
    fn snapshot_every() -> Option<u64> {
        Some(50)
    }
}

/// A business refusal: part of the reply, not an actor failure.
#[derive(Debug, PartialEq, Eq)]
enum Refused {
    NotPositive,
    InsufficientFunds { balance: i64, wanted: i64 },
}

struct Deposit(i64);
impl Message for Deposit {
    type Reply = Result<i64, Refused>;
}

impl Handler<Deposit> for Account {
    async fn handle(
        &mut self,
        m: Deposit,
        ctx: &mut Context<Self>,
    ) -> Result<Result<i64, Refused>, ActorError> {
        if m.0 <= 0 {
            return Ok(Err(Refused::NotPositive));
        }
        ctx.persist(&mut self.balance, [Txn::Deposited(m.0)])
            .await?;
        Ok(Ok(self.balance.cents))
    }
}

struct Withdraw(i64);
impl Message for Withdraw {
    type Reply = Result<i64, Refused>;
}

impl Handler<Withdraw> for Account {
    async fn handle(
        &mut self,
        m: Withdraw,
        ctx: &mut Context<Self>,
    ) -> Result<Result<i64, Refused>, ActorError> {
        if m.0 <= 0 {
            return Ok(Err(Refused::NotPositive));
        }
        // The invariant (no overdraft) is checked against the recovered state before the
        // event is written; a refused withdrawal writes nothing.
        if self.balance.cents < m.0 {
            let balance = self.balance.cents;
            return Ok(Err(Refused::InsufficientFunds {
                balance,
                wanted: m.0,
            }));
        }
        ctx.persist(&mut self.balance, [Txn::Withdrawn(m.0)])
            .await?;
        if self.balance.cents < 0 {
            return Err(ActorError::msg("invariant broken: negative balance"));
        }
        Ok(Ok(self.balance.cents))
    }
}

/// One statement line: the account's version, the movement and the balance after it.
#[derive(Debug, Clone, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
struct Line {
    version: u64,
    cents: i64,
    balance: i64,
}

/// The statements projection: one statement per account stream, per shard. Its state is
/// stored with each of its checkpoints, so it resumes exactly where it committed.
struct Statements;

impl Projection for Statements {
    type State = BTreeMap<String, Vec<Line>>;
    const NAME: &'static str = "statements";

    fn filter() -> Filter {
        Filter::all().stream_prefix("account-")
    }

    fn apply(state: &mut Self::State, event: &Event) -> Result<(), quark::journal::Error> {
        let cents = match event.deserialize::<Txn>()? {
            Txn::Deposited(c) => c,
            Txn::Withdrawn(c) => -c,
        };
        let lines = state.entry(event.stream().to_owned()).or_default();
        let balance = lines.last().map_or(0, |l| l.balance) + cents;
        let version = event.version();
        lines.push(Line {
            version,
            cents,
            balance,
        });
        Ok(())
    }
}

fn start(dir: &std::path::Path) -> Result<Engine, Box<dyn std::error::Error>> {
    let engine = Builder::new()
        .shards(2)
        .spin_before_park(None)
        .data_dir(dir)
        .register::<Account>()
        .start()?;
    let journal = engine.journal();
    futures_lite::future::block_on(journal.start_projection::<Statements>())?;
    Ok(engine)
}

/// The statement of `account`, waiting (bounded) until the projection has seen `version`.
fn statement(engine: &Engine, account: &str, version: u64) -> Vec<Line> {
    let stream = format!("account-{account}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let journal = engine.journal();
    loop {
        let states = futures_lite::future::block_on(journal.projection_state::<Statements>());
        let lines: Vec<Line> = states
            .unwrap_or_default()
            .into_iter()
            .flatten()
            .filter_map(|mut s| s.remove(&stream))
            .flatten()
            .collect();
        if lines.last().is_some_and(|l| l.version >= version) || Instant::now() > deadline {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn print_statement(engine: &Engine, account: &str) {
    let info =
        futures_lite::future::block_on(engine.journal().stream_info(&format!("account-{account}")));
    let version = info.ok().flatten().map_or(0, |i| i.version);
    println!("statement of {account} (stream version {version}):");
    for l in statement(engine, account, version) {
        println!("  v{:<3} {:>+8} -> {:>8}", l.version, l.cents, l.balance);
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let temp = tempfile::tempdir()?;
    let dir = std::env::args()
        .nth(1)
        .map_or_else(|| temp.path().to_path_buf(), Into::into);
    let engine = start(&dir)?;
    let alice = engine.actor::<Account>("alice");
    let bob = engine.actor::<Account>("bob");
    println!(
        "alice deposits 100.00: {:?}",
        alice.call_blocking(Deposit(10_000))?
    );
    println!(
        "alice withdraws 30.00: {:?}",
        alice.call_blocking(Withdraw(3_000))?
    );
    println!("bob deposits 5.00: {:?}", bob.call_blocking(Deposit(500))?);
    let overdraft = bob.call_blocking(Withdraw(1_000))?;
    println!("bob withdraws 10.00: {overdraft:?}");
    assert!(matches!(overdraft, Err(Refused::InsufficientFunds { .. })));
    print_statement(&engine, "alice");
    print_statement(&engine, "bob");
    engine.shutdown()?;

    println!("-- restart: balances come back from the log, statements from the checkpoint --");
    let engine = start(&dir)?;
    let alice = engine.actor::<Account>("alice");
    println!(
        "alice withdraws 70.00: {:?}",
        alice.call_blocking(Withdraw(7_000))?
    );
    println!(
        "alice withdraws 0.01: {:?}",
        alice.call_blocking(Withdraw(1))?
    );
    print_statement(&engine, "alice");
    print_statement(&engine, "bob");
    engine.shutdown()?;
    Ok(())
}
