//! `COPY --chmod` values.
//!
//! Input: the flag's text, octal (`0755`, at most `07777`) or symbolic (`u+x,go-w`, `a=rX`).
//! Output: a [`Chmod`] that maps an entry's mode to the mode written into the tar stream.
//! Invariant: symbolic modes follow chmod(1) with a umask of 0 (what BuildKit uses), so a clause
//! without `u`, `g`, `o` or `a` applies to all three.

use super::error::ContextError;

/// A parsed `--chmod` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chmod {
    /// An absolute octal mode; replaces the permission bits of every entry.
    Octal(u32),
    /// Symbolic clauses applied in order.
    Symbolic(Vec<Clause>),
}

/// One `who op perms` clause of a symbolic mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    who: u32,
    op: char,
    perms: String,
}

impl Chmod {
    /// Parses a `--chmod` value.
    pub fn parse(text: &str) -> Result<Self, ContextError> {
        let bad = || ContextError::BadChmod {
            value: text.to_string(),
        };
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            let mode = u32::from_str_radix(text, 8).map_err(|_| bad())?;
            if mode > 0o7777 {
                return Err(bad());
            }
            return Ok(Chmod::Octal(mode));
        }
        let mut clauses = Vec::new();
        for part in text.split(',') {
            let who_len = part.find(['+', '-', '=']).ok_or_else(bad)?;
            let mut who = 0;
            for ch in part[..who_len].chars() {
                who |= match ch {
                    'u' => 0o4700,
                    'g' => 0o2070,
                    'o' => 0o1007,
                    'a' => 0o7777,
                    _ => return Err(bad()),
                };
            }
            if who == 0 {
                who = 0o7777;
            }
            // Several operations may follow one `who`: `u+x-w`.
            let mut rest = &part[who_len..];
            while let Some(op) = rest.chars().next() {
                let end = rest[1..]
                    .find(['+', '-', '='])
                    .map_or(rest.len(), |i| i + 1);
                let perms = &rest[1..end];
                if !perms.chars().all(|c| "rwxXst".contains(c)) {
                    return Err(bad());
                }
                clauses.push(Clause {
                    who,
                    op,
                    perms: perms.to_string(),
                });
                rest = &rest[end..];
            }
        }
        Ok(Chmod::Symbolic(clauses))
    }

    /// The mode of an entry after the flag: `mode` is its current `mode & 0o7777`.
    pub fn apply(&self, mode: u32, is_dir: bool) -> u32 {
        match self {
            Chmod::Octal(octal) => *octal,
            Chmod::Symbolic(clauses) => clauses
                .iter()
                .fold(mode, |current, clause| clause.apply(current, is_dir)),
        }
    }

    /// The mode of a destination directory the copy has to create (BuildKit uses the octal
    /// mode there, and 0755 otherwise).
    pub fn created_dir_mode(&self) -> u32 {
        match self {
            Chmod::Octal(octal) => *octal,
            Chmod::Symbolic(_) => 0o755,
        }
    }
}

impl Clause {
    fn apply(&self, mode: u32, is_dir: bool) -> u32 {
        let mut bits = 0;
        for perm in self.perms.chars() {
            bits |= match perm {
                'r' => 0o444,
                'w' => 0o222,
                'x' => 0o111,
                'X' if is_dir || mode & 0o111 != 0 => 0o111,
                's' => 0o6000,
                't' => 0o1000,
                _ => 0,
            };
        }
        let bits = bits & self.who;
        match self.op {
            '+' => mode | bits,
            '-' => mode & !bits,
            _ => (mode & !(self.who & 0o7777)) | bits,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Chmod;

    fn apply(text: &str, mode: u32, is_dir: bool) -> u32 {
        Chmod::parse(text).expect("valid chmod").apply(mode, is_dir)
    }

    #[test]
    fn octal_replaces_the_mode() {
        assert_eq!(apply("755", 0o600, false), 0o755);
        assert_eq!(apply("0640", 0o777, true), 0o640);
        assert_eq!(Chmod::parse("4755").unwrap().created_dir_mode(), 0o4755);
    }

    #[test]
    fn symbolic_follows_chmod() {
        assert_eq!(apply("u+x", 0o644, false), 0o744);
        assert_eq!(apply("go-w", 0o666, false), 0o644);
        assert_eq!(apply("a=rX", 0o700, true), 0o555);
        assert_eq!(apply("a=rX", 0o600, false), 0o444);
        assert_eq!(apply("a=rX", 0o700, false), 0o555);
        assert_eq!(apply("+x", 0o644, false), 0o755);
        assert_eq!(apply("u=rw,g=r,o=", 0o777, false), 0o640);
        assert_eq!(apply("u+x-w", 0o644, false), 0o544);
        assert_eq!(Chmod::parse("u+x").unwrap().created_dir_mode(), 0o755);
    }

    #[test]
    fn rejects_nonsense() {
        for bad in ["", "8", "17777", "u", "z+x", "u+q", "u+x,"] {
            assert!(Chmod::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
