//! [`StableKey`]: the specified encodings of actor keys that homes and stream names are
//! derived from.
//!
//! A key's home shard and its event-sourced actor's stream name are stored facts (the
//! history sits in the log they named), so they must come from an encoding that no compiler,
//! library or platform can change. `Hash` and `Debug` output promise no such thing.
//!
//! # Byte encoding (hashed for homes)
//! - Unsigned and signed integers: their two's-complement bytes, little-endian, at the type's
//!   width (`usize`/`isize` as 8 bytes, so 32- and 64-bit hosts agree).
//! - `bool`: one byte, 0 or 1. `char`: its scalar value as a `u32`, little-endian.
//! - Strings (`str`, `String`, `Box<str>`, `Arc<str>`): a `u32` little-endian byte length,
//!   then the UTF-8 bytes. Byte strings (`[u8]`, `Vec<u8>`, `[u8; N]`): the same, so a
//!   UUID is best keyed as `[u8; 16]` (or `u128`).
//! - Tuples (up to 6): the elements' encodings, in order. `()`: nothing.
//!
//! # Text encoding (stream names `"<CATEGORY>-<text>"`)
//! - Integers in decimal, `bool` as `true`/`false`, a `char` as itself, a string verbatim at
//!   the top level, byte strings as lowercase hex.
//! - Inside a tuple, strings and chars are quoted with `"` and `\` escaped (`\"`, `\\`), and
//!   the elements are written `(a, b)`: the text stays unique per key.
//!
//! For strings free of control characters, quotes, backslashes and non-printable code points
//! and for integers, the text is the same as the `Debug`-derived names earlier versions used,
//! so their streams keep their names; other existing streams stay readable through the
//! legacy name (see `journal::EventSourced::legacy_stream`).
//!
//! Invariants: both encodings are pure functions of the value; two different keys of one type
//! never share a byte encoding or a text encoding; the golden values below pin both.

use std::sync::Arc;

/// A key's specified, stable encodings: bytes for its home hash, text for stream names.
///
/// Implemented for strings, integers, `bool`, `char`, byte strings and tuples of them. For an
/// own key type, write its fields in a fixed order with the existing impls, and never change
/// that order (it would move every key's home, which the engine then heals by adopting
/// streams, at the cost of a cross-shard round trip per stream).
///
/// ```
/// use quark::StableKey;
/// let mut bytes = Vec::new();
/// ("alice", 7u32).stable_bytes(&mut bytes);
/// assert_eq!(bytes, b"\x05\x00\x00\x00alice\x07\x00\x00\x00");
/// assert_eq!(("alice", 7u32).stable_text(), "(\"alice\", 7)");
/// assert_eq!("alice".stable_text(), "alice");
/// ```
pub trait StableKey {
    /// Appends the key's byte encoding to `out`.
    fn stable_bytes(&self, out: &mut Vec<u8>);

    /// Appends the key's text encoding as it appears at the top level of a stream name.
    fn write_text(&self, out: &mut String);

    /// Appends the key's text encoding as an element of a tuple (strings are quoted).
    fn write_text_nested(&self, out: &mut String) {
        self.write_text(out);
    }

    /// The key's text encoding.
    fn stable_text(&self) -> String {
        let mut out = String::new();
        self.write_text(&mut out);
        out
    }
}

macro_rules! stable_int {
    ($($t:ty => $wide:ty),* $(,)?) => {$(
        impl StableKey for $t {
            fn stable_bytes(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&(*self as $wide).to_le_bytes());
            }
            fn write_text(&self, out: &mut String) {
                use std::fmt::Write;
                let _ = write!(out, "{self}");
            }
        }
    )*};
}

stable_int!(
    u8 => u8, u16 => u16, u32 => u32, u64 => u64, u128 => u128, usize => u64,
    i8 => i8, i16 => i16, i32 => i32, i64 => i64, i128 => i128, isize => i64,
);

impl StableKey for bool {
    fn stable_bytes(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }
    fn write_text(&self, out: &mut String) {
        out.push_str(if *self { "true" } else { "false" });
    }
}

impl StableKey for char {
    fn stable_bytes(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&u32::from(*self).to_le_bytes());
    }
    fn write_text(&self, out: &mut String) {
        out.push(*self);
    }
    fn write_text_nested(&self, out: &mut String) {
        quote(self.encode_utf8(&mut [0u8; 4]), out);
    }
}

impl StableKey for str {
    fn stable_bytes(&self, out: &mut Vec<u8>) {
        length_prefixed(self.as_bytes(), out);
    }
    fn write_text(&self, out: &mut String) {
        out.push_str(self);
    }
    fn write_text_nested(&self, out: &mut String) {
        quote(self, out);
    }
}

impl StableKey for [u8] {
    fn stable_bytes(&self, out: &mut Vec<u8>) {
        length_prefixed(self, out);
    }
    fn write_text(&self, out: &mut String) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for byte in self {
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 15)]));
        }
    }
}

impl<const N: usize> StableKey for [u8; N] {
    fn stable_bytes(&self, out: &mut Vec<u8>) {
        self.as_slice().stable_bytes(out);
    }
    fn write_text(&self, out: &mut String) {
        self.as_slice().write_text(out);
    }
}

/// Owned and shared forms encode as what they hold.
macro_rules! stable_deref {
    ($($t:ty => $inner:ty),* $(,)?) => {$(
        impl StableKey for $t {
            fn stable_bytes(&self, out: &mut Vec<u8>) {
                <$inner as StableKey>::stable_bytes(self, out);
            }
            fn write_text(&self, out: &mut String) {
                <$inner as StableKey>::write_text(self, out);
            }
            fn write_text_nested(&self, out: &mut String) {
                <$inner as StableKey>::write_text_nested(self, out);
            }
        }
    )*};
}

stable_deref!(String => str, Box<str> => str, Arc<str> => str, Vec<u8> => [u8]);

impl<T: StableKey + ?Sized> StableKey for &T {
    fn stable_bytes(&self, out: &mut Vec<u8>) {
        (**self).stable_bytes(out);
    }
    fn write_text(&self, out: &mut String) {
        (**self).write_text(out);
    }
    fn write_text_nested(&self, out: &mut String) {
        (**self).write_text_nested(out);
    }
}

impl StableKey for () {
    fn stable_bytes(&self, _out: &mut Vec<u8>) {}
    fn write_text(&self, out: &mut String) {
        out.push_str("()");
    }
}

macro_rules! stable_tuple {
    ($($name:ident)+) => {
        impl<$($name: StableKey),+> StableKey for ($($name,)+) {
            #[allow(non_snake_case)]
            fn stable_bytes(&self, out: &mut Vec<u8>) {
                let ($($name,)+) = self;
                $($name.stable_bytes(out);)+
            }
            #[allow(non_snake_case)]
            fn write_text(&self, out: &mut String) {
                let ($($name,)+) = self;
                out.push('(');
                let mut first = true;
                $(
                    if !std::mem::take(&mut first) {
                        out.push_str(", ");
                    }
                    $name.write_text_nested(out);
                )+
                out.push(')');
            }
        }
    };
}

stable_tuple!(A);
stable_tuple!(A B);
stable_tuple!(A B C);
stable_tuple!(A B C D);
stable_tuple!(A B C D E);
stable_tuple!(A B C D E F);

fn length_prefixed(bytes: &[u8], out: &mut Vec<u8>) {
    // Keys are bounded far below 4 GiB (a stream name is at most 4 KiB); the cast is exact.
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

fn quote(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

/// The byte encoding of `key`.
#[cfg(test)]
pub(crate) fn bytes_of<K: StableKey + ?Sized>(key: &K) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    key.stable_bytes(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_encodings_are_pinned() {
        assert_eq!(bytes_of(&7u64), [7, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(bytes_of(&7usize), bytes_of(&7u64));
        assert_eq!(bytes_of(&-2i16), [0xfe, 0xff]);
        assert_eq!(bytes_of(&1u128).len(), 16);
        assert_eq!(bytes_of(&true), [1]);
        assert_eq!(bytes_of(&'é'), [0xe9, 0, 0, 0]);
        assert_eq!(bytes_of("ab"), b"\x02\x00\x00\x00ab");
        assert_eq!(bytes_of(&String::from("ab")), bytes_of("ab"));
        assert_eq!(bytes_of(&Arc::<str>::from("ab")), bytes_of("ab"));
        assert_eq!(bytes_of(&[0xABu8; 2]), b"\x02\x00\x00\x00\xab\xab");
        assert_eq!(bytes_of(&vec![0xABu8; 2]), bytes_of(&[0xABu8; 2]));
        assert_eq!(bytes_of(&(1u8, "a")), b"\x01\x01\x00\x00\x00a");
        assert_eq!(bytes_of(&()), b"");
    }

    #[test]
    fn text_encodings_are_pinned_and_match_legacy_names_for_plain_keys() {
        assert_eq!("alice".stable_text(), "alice");
        assert_eq!(42u32.stable_text(), "42");
        assert_eq!((-3i64).stable_text(), "-3");
        assert_eq!((1u32, 2u64).stable_text(), "(1, 2)");
        assert_eq!(("a", 'b', false).stable_text(), "(\"a\", \"b\", false)");
        assert_eq!(("a\"b\\",).stable_text(), "(\"a\\\"b\\\\\")");
        assert_eq!([0x01u8, 0xfe].stable_text(), "01fe");
        // The names earlier versions derived from `Debug`, for the common keys.
        for key in ["alice", "order-17", "Zoë"] {
            assert_eq!(format!("{key:?}").trim_matches('"'), key.stable_text());
        }
        assert_eq!(format!("{:?}", (1u32, 2u64)), (1u32, 2u64).stable_text());
        assert_eq!(format!("{:?}", ("a", 7u8)), ("a", 7u8).stable_text());
    }

    #[test]
    fn different_keys_never_share_an_encoding() {
        let pairs = [(("ab", "c"), ("a", "bc")), (("a, b", "c"), ("a", "b, c"))];
        for (x, y) in pairs {
            assert_ne!(bytes_of(&x), bytes_of(&y));
            assert_ne!(x.stable_text(), y.stable_text());
        }
    }
}
