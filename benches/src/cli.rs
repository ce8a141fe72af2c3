//! The command line: `[SCENARIO…] [--quick] [--json PATH] [--svg PATH] [--list]`.
//!
//! Invariant: parsing is pure (no I/O), so it is tested without running anything.
use crate::error::Error;
use crate::size::Size;
use std::path::PathBuf;

/// The usage text.
pub const USAGE: &str = "usage: quark-benches [SCENARIO…] [--quick] [--json PATH] [--svg PATH] \
[--list]
  SCENARIO     a scenario name (log.append) or a prefix of names (actor); default: all
  --quick      smaller runs, same code paths: everything in under 60 s
  --tiny       one pass of every code path (what `cargo test` runs); figures meaningless
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
    /// Only list scenarios.
    pub list: bool,
    /// Only print usage.
    pub help: bool,
}

/// Parses the arguments (without the program name).
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Args, Error> {
    let mut out = Args {
        names: Vec::new(),
        size: Size::Full,
        json: None,
        svg: None,
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
    fn bad_input_is_an_error() {
        assert!(parse(args("--json")).is_err());
        assert!(parse(args("--fast")).is_err());
    }
}
