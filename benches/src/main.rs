//! `quark-benches`: runs the harness's scenarios and prints one table (see `benches/README.md`).
//!
//! Invariant: the table goes to stdout, progress to stderr; exit code 2 on bad arguments, 1 when
//! an output file cannot be written.
#![forbid(unsafe_code)]

use quark_benches::json::Report;
use quark_benches::scenario::Endpoints;
use quark_benches::size::Size;
use quark_benches::{Error, cli, runner, svg};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = match cli::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ (Error::UnknownScenario { .. } | Error::Usage(_))) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: cli::Args) -> Result<(), Error> {
    if args.help {
        println!("{}", cli::USAGE);
        return Ok(());
    }
    let scenarios = runner::select(&args.names)?;
    if args.list {
        for s in &scenarios {
            println!("{:<24} {}", s.name(), s.describe());
        }
        return Ok(());
    }
    let endpoints = Endpoints::for_transport(args.transport);
    let run = runner::run_repeated(&scenarios, args.size, args.repeat(), &endpoints);
    print!("{}", runner::render(&run));
    if let Some(path) = &args.json {
        let report = Report::of(&run, args.size == Size::Quick);
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, text + "\n").map_err(|source| Error::Write {
            path: path.clone(),
            source,
        })?;
        eprintln!("[bench] wrote {}", path.display());
    }
    if let Some(path) = &args.svg {
        svg::draw(path, &run.rows(), &run.spreads())?;
        eprintln!("[bench] drew {}", path.display());
    }
    Ok(())
}
