//! The command line: `[SCENARIO…] [--quick] [--repeat N] [--tcp] [--json PATH] [--svg PATH]
//! [--list]`.
//!
//! Invariant: parsing is pure (no I/O), so it is tested without running anything.
use crate::error::Error;
use crate::scenario::Transport;
use crate::size::Size;
use std::path::PathBuf;

/// The usage text.
pub const USAGE: &str = "usage: quark-benches [SCENARIO…] [--quick] [--repeat N] [--tcp] \
[--json PATH] [--svg PATH] [--list]
  SCENARIO     a scenario name (log.append) or a prefix of names (actor); default: all
  --quick      smaller runs, same code paths: everything in under 60 s (one repeat)
  --tiny       one pass of every code path (what `cargo test` runs); figures meaningless
  --repeat N   run each scenario N times, systems taking turns, and report the median with the
               min–max spread (default: 3 for the full run, 1 for --quick and --tiny)
  --tcp        reach PostgreSQL and Redis over TCP on 127.0.0.1 instead of their unix sockets
  --json PATH  write the results as JSON
  --svg PATH   draw the results (one panel per scenario)
  --list       list the scenarios and exit";

/// What the command line asked for.
#[derive(Debug, PartialEq, Eq)]
pub struct Args {
    /// Scenario names or prefixes; empty means all.
    pub names: Vec<String>,
    /// Run size.
    pub size: Size,
    /// Where to write JSON.
    pub json: Option<PathBuf>,
    /// Where to draw SVG.
    pub svg: Option<PathBuf>,
    /// `--repeat N`, if given.
    pub repeat: Option<usize>,
    /// How the peers' servers are reached.
    pub transport: Transport,
    /// Only list scenarios.
    pub list: bool,
    /// Only print usage.
    pub help: bool,
}

impl Args {
    /// How many times each scenario runs: `--repeat N`, else 3 for the full run and 1 for the
    /// smaller sizes.
    pub fn repeat(&self) -> usize {
        self.repeat.unwrap_or(self.size.pick(1, 1, 3))
    }
}

/// Parses the arguments (without the program name).
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Args, Error> {
    let mut out = Args {
        names: Vec::new(),
        size: Size::Full,
        json: None,
        svg: None,
        repeat: None,
        transport: Transport::Socket,
        list: false,
        help: false,
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut path = |flag: &str| {
            args.next()
                .map(PathBuf::from)
                .ok_or_else(|| Error::Usage(format!("{flag} needs a PATH\n{USAGE}")))
        };
        match arg.as_str() {
            "--quick" => out.size = Size::Quick,
            "--tiny" => out.size = Size::Tiny,
            "--json" => out.json = Some(path("--json")?),
            "--svg" => out.svg = Some(path("--svg")?),
            "--list" => out.list = true,
            "--tcp" => out.transport = Transport::Tcp,
            "--repeat" => {
                let n = args.next().and_then(|n| n.parse::<usize>().ok());
                match n {
                    Some(n) if n >= 1 => out.repeat = Some(n),
                    _ => {
                        let why = format!("--repeat needs a count of at least 1\n{USAGE}");
                        return Err(Error::Usage(why));
                    }
                }
            }
            "-h" | "--help" => out.help = true,
            s if s.starts_with('-') => {
                return Err(Error::Usage(format!("unknown option {s}\n{USAGE}")));
            }
            _ => out.names.push(arg),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::parse;
    use crate::scenario::Transport;
    use crate::size::Size;
    use std::path::PathBuf;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn flags_and_names() {
        let a = parse(args(
            "log.append --quick --json /tmp/a.json actor --svg b.svg",
        ))
        .unwrap();
        assert_eq!(a.names, vec!["log.append", "actor"]);
        assert_eq!(a.size, Size::Quick);
        assert_eq!(a.json, Some(PathBuf::from("/tmp/a.json")));
        assert_eq!(a.svg, Some(PathBuf::from("b.svg")));
        assert_eq!(parse(args("")).unwrap().size, Size::Full);
    }

    #[test]
    fn repeat_defaults_to_three_for_full_runs_only() {
        assert_eq!(parse(args("")).unwrap().repeat(), 3);
        assert_eq!(parse(args("--quick")).unwrap().repeat(), 1);
        assert_eq!(parse(args("--tiny")).unwrap().repeat(), 1);
        assert_eq!(parse(args("--quick --repeat 5")).unwrap().repeat(), 5);
        assert!(parse(args("--repeat 0")).is_err());
        assert!(parse(args("--repeat x")).is_err());
        assert!(parse(args("--repeat")).is_err());
    }

    #[test]
    fn peers_are_reached_over_unix_sockets_unless_tcp_is_asked() {
        assert_eq!(parse(args("")).unwrap().transport, Transport::Socket);
        assert_eq!(parse(args("--tcp")).unwrap().transport, Transport::Tcp);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(parse(args("--json")).is_err());
        assert!(parse(args("--fast")).is_err());
    }
}
