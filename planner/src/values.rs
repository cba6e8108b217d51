//! The option values BuildKit validates before it builds anything, parsed with the rules (and
//! error texts) of the Go code it calls: `time.ParseDuration` for HEALTHCHECK intervals,
//! `strconv.ParseInt` for `--retries` and `SOURCE_DATE_EPOCH`, the chmod parser of
//! `COPY/ADD --chmod` (an octal mode, or a symbolic one as tonistiigi/dchapes-mode reads it), and
//! go-digest's `Digest.Validate` for `ADD --checksum`.
//!
//! Input: the value as written (after expansion). Output: the parsed value, or the error text
//! BuildKit shows. Invariant: pure functions that never panic; the texts are Go's.

/// A Go duration in nanoseconds.
pub type Nanos = i64;

/// Go's `time.quote`: the value in double quotes, `"` and `\` escaped, bytes of control or
/// non-ASCII characters as `\xNN`.
fn go_time_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for ch in text.chars() {
        if ch < ' ' || !ch.is_ascii() {
            let mut buf = [0u8; 4];
            for byte in ch.encode_utf8(&mut buf).bytes() {
                out.push_str("\\x");
                out.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
                out.push(char::from(b"0123456789abcdef"[usize::from(byte & 15)]));
            }
        } else {
            if ch == '"' || ch == '\\' {
                out.push('\\');
            }
            out.push(ch);
        }
    }
    out.push('"');
    out
}

/// 2^63, the bound of Go's duration arithmetic.
const LIMIT: u64 = 1 << 63;

/// Go's `time.leadingInt`: the digits at the start of `text` and the rest; `None` on overflow.
fn leading_int(text: &str) -> Option<(u64, &str)> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let mut value: u64 = 0;
    for byte in text[..digits].bytes() {
        if value > LIMIT / 10 {
            return None;
        }
        value = value * 10 + u64::from(byte - b'0');
        if value > LIMIT {
            return None;
        }
    }
    Some((value, &text[digits..]))
}

/// Go's `time.leadingFraction`: the digits after a `.`, their scale, and the rest; digits that
/// no longer fit are dropped.
fn leading_fraction(text: &str) -> (u64, f64, &str) {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (mut value, mut scale, mut overflow) = (0u64, 1f64, false);
    for byte in text[..digits].bytes() {
        if overflow {
            continue;
        }
        if value > (LIMIT - 1) / 10 {
            overflow = true;
            continue;
        }
        let next = value * 10 + u64::from(byte - b'0');
        if next > LIMIT {
            overflow = true;
            continue;
        }
        value = next;
        scale *= 10.0;
    }
    (value, scale, &text[digits..])
}

/// Go's `time.ParseDuration` (`300ms`, `-1.5h`, `2h45m`), with its error texts.
pub fn parse_duration(value: &str) -> Result<Nanos, String> {
    let invalid = || format!("time: invalid duration {}", go_time_quote(value));
    let mut rest = value;
    let mut negative = false;
    if let Some(first) = rest.chars().next() {
        if first == '-' || first == '+' {
            negative = first == '-';
            rest = &rest[1..];
        }
    }
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let first = rest.as_bytes()[0];
        if !(first == b'.' || first.is_ascii_digit()) {
            return Err(invalid());
        }
        let before = rest.len();
        let (whole, after) = leading_int(rest).ok_or_else(invalid)?;
        let pre = before != after.len();
        rest = after;
        let (mut fraction, mut scale, mut post) = (0, 1.0, false);
        if let Some(after_dot) = rest.strip_prefix('.') {
            let before = after_dot.len();
            (fraction, scale, rest) = leading_fraction(after_dot);
            post = before != rest.len();
        }
        if !pre && !post {
            return Err(invalid());
        }
        let unit_len = rest
            .char_indices()
            .find(|(_, ch)| *ch == '.' || ch.is_ascii_digit())
            .map_or(rest.len(), |(idx, _)| idx);
        if unit_len == 0 {
            return Err(format!(
                "time: missing unit in duration {}",
                go_time_quote(value)
            ));
        }
        let unit_text = &rest[..unit_len];
        rest = &rest[unit_len..];
        let unit: u64 = match unit_text {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    go_time_quote(unit_text),
                    go_time_quote(value)
                ))
            }
        };
        if whole > LIMIT / unit {
            return Err(invalid());
        }
        let mut part = whole * unit;
        if fraction > 0 {
            // As Go does: float64(f) * (float64(unit) / scale).
            part += (fraction as f64 * (unit as f64 / scale)) as u64;
            if part > LIMIT {
                return Err(invalid());
            }
        }
        total = total
            .checked_add(part)
            .filter(|t| *t <= LIMIT)
            .ok_or_else(invalid)?;
    }
    if negative {
        return Ok((total as i64).wrapping_neg());
    }
    if total > LIMIT - 1 {
        return Err(invalid());
    }
    Ok(total as Nanos)
}

/// A `strconv.ParseInt` failure: the text Go prints for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntError(pub String);

/// Go's `strconv.ParseInt(value, 10, bits)`: an optional sign and decimal digits in range.
pub fn parse_int(value: &str, bits: u32) -> Result<i64, IntError> {
    let fail = |reason: &str| {
        IntError(format!(
            "strconv.ParseInt: parsing {}: {reason}",
            go_quote(value)
        ))
    };
    let digits = value.strip_prefix(['+', '-']).unwrap_or(value);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(fail("invalid syntax"));
    }
    let magnitude = digits
        .bytes()
        .try_fold(0u64, |acc, b| {
            acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        })
        .unwrap_or(u64::MAX);
    let limit = 1u64 << (bits - 1);
    let negative = value.starts_with('-');
    if (negative && magnitude > limit) || (!negative && magnitude >= limit) {
        return Err(fail("value out of range"));
    }
    Ok(if negative {
        (magnitude as i64).wrapping_neg()
    } else {
        magnitude as i64
    })
}

/// moby's `signal.ParseSignal`: a positive number or a known name, with or without `SIG`.
pub fn check_signal(signal: &str) -> Result<(), String> {
    if let Ok(number) = signal.parse::<i64>() {
        // `strconv.Atoi` then only 0 refused: moby takes any other number.
        return if number != 0 {
            Ok(())
        } else {
            Err(format!("Invalid signal: {signal}"))
        };
    }
    let name = signal.to_ascii_uppercase();
    let name = name.strip_prefix("SIG").unwrap_or(&name);
    // One string rather than a table of them: smaller in the WASM module.
    const NAMES: &str =
        "ABRT ALRM BUS CHLD CLD CONT FPE HUP ILL INT IO IOT KILL PIPE POLL PROF PWR \
                         QUIT SEGV STKFLT STOP SYS TERM TRAP TSTP TTIN TTOU URG USR1 USR2 VTALRM \
                         WINCH XCPU XFSZ";
    let realtime = name
        .strip_prefix("RTMIN")
        .or_else(|| name.strip_prefix("RTMAX"))
        .is_some_and(|rest| {
            rest.is_empty()
                || rest
                    .strip_prefix(['+', '-'])
                    .and_then(|n| n.parse::<u32>().ok())
                    .is_some_and(|n| (1..=15).contains(&n))
        });
    if NAMES.split_ascii_whitespace().any(|known| known == name) || realtime {
        Ok(())
    } else {
        Err(format!("Invalid signal: {signal}"))
    }
}

/// Go's `strconv.Quote` for the texts these errors show (printable ASCII as is, the rest
/// escaped).
pub fn go_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            ch if (ch as u32) < 0x20 || ch == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", ch as u32));
            }
            ch => out.push(ch),
        }
    }
    out.push('"');
    out
}

/// The error BuildKit gives for a `--chmod` value that is not a mode (dockerfile2llb
/// `dispatchCopy`): numeric-looking values and octal modes above 07777 get the "invalid chmod
/// parameter" text; a malformed symbolic mode gets the mode parser's "invalid syntax".
pub fn check_chmod(value: &str) -> Result<(), String> {
    let non_octal = || {
        format!(
            "invalid chmod parameter: '{value}'. it should be octal string and between 0 and 07777"
        )
    };
    let octal = !value.is_empty() && value.bytes().all(|b| (b'0'..=b'7').contains(&b));
    if octal {
        let fits_u32 = value.trim_start_matches('0').len() <= 11
            && u64::from_str_radix(value, 8).is_ok_and(|v| v <= u64::from(u32::MAX));
        return match u64::from_str_radix(value, 8) {
            Ok(mode) if fits_u32 && mode <= 0o7777 => Ok(()),
            _ => Err(non_octal()),
        };
    }
    match parse_symbolic_mode(value) {
        Ok(()) => Ok(()),
        Err(ModeError::Numeric) => Err(non_octal()),
        Err(ModeError::Syntax) => Err("invalid syntax".to_string()),
    }
}

/// Why a mode failed to parse: a number Go's `strconv` refused, or bad symbolic syntax.
enum ModeError {
    Numeric,
    Syntax,
}

/// dchapes-mode `Parse`: a leading digit means an octal number up to 07777 (Go's
/// `ParseInt(s, 8, 16)`); otherwise `[ugoa]*[+-=][rwxXstugo]*` clauses separated by `,`.
fn parse_symbolic_mode(value: &str) -> Result<(), ModeError> {
    let bytes = value.as_bytes();
    let Some(first) = bytes.first() else {
        return Err(ModeError::Syntax);
    };
    if first.is_ascii_digit() {
        if !bytes.iter().all(|b| (b'0'..=b'7').contains(b)) {
            return Err(ModeError::Numeric);
        }
        return match i64::from_str_radix(value, 8) {
            Ok(mode) if mode < 1 << 15 => {
                if mode & !0o7777 != 0 {
                    Err(ModeError::Syntax)
                } else {
                    Ok(())
                }
            }
            _ => Err(ModeError::Numeric),
        };
    }
    let mut pos = 0;
    loop {
        // Who: [ugoa]*, then at least an operator must follow.
        while pos < bytes.len() && matches!(bytes[pos], b'a' | b'u' | b'g' | b'o') {
            pos += 1;
        }
        if pos >= bytes.len() {
            return Err(ModeError::Syntax);
        }
        loop {
            if !matches!(bytes[pos], b'+' | b'-' | b'=') {
                return Err(ModeError::Syntax);
            }
            pos += 1;
            while pos < bytes.len()
                && matches!(
                    bytes[pos],
                    b'r' | b's' | b't' | b'w' | b'X' | b'x' | b'u' | b'g' | b'o'
                )
            {
                pos += 1;
            }
            if pos >= bytes.len() {
                return Ok(());
            }
            if bytes[pos] == b',' {
                pos += 1;
                break;
            }
        }
    }
}

/// go-digest `Digest.Validate` as `ADD --checksum` for an HTTP source uses it:
/// `algorithm:hex` with sha256, sha384 or sha512 and the right length of lower-case hex.
pub fn check_digest(value: &str) -> Result<(), String> {
    const INVALID_FORMAT: &str = "invalid checksum digest format";
    const UNSUPPORTED: &str = "unsupported digest algorithm";
    let Some(colon) = value.find(':').filter(|c| *c > 0 && *c + 1 < value.len()) else {
        return Err(INVALID_FORMAT.to_string());
    };
    let (algorithm, encoded) = (&value[..colon], &value[colon + 1..]);
    let size = match algorithm {
        "sha256" => 32,
        "sha384" => 48,
        "sha512" => 64,
        _ => {
            return Err(if is_digest_shape(value) {
                UNSUPPORTED
            } else {
                INVALID_FORMAT
            }
            .to_string())
        }
    };
    if encoded.len() != size * 2 {
        return Err("invalid checksum digest length".to_string());
    }
    if !encoded
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(INVALID_FORMAT.to_string());
    }
    Ok(())
}

/// go-digest's `DigestRegexpAnchored`: `[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+`.
fn is_digest_shape(value: &str) -> bool {
    let Some((algorithm, encoded)) = value.split_once(':') else {
        return false;
    };
    let component = |part: &str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    let mut pieces = algorithm.split(['.', '+', '_', '-']);
    pieces.all(component)
        && !encoded.is_empty()
        && encoded
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_like_moby_parse_signal() {
        for good in [
            "SIGKILL",
            "term",
            "9",
            "-1",
            "SIGRTMIN+3",
            "RTMAX-15",
            "sigwinch",
        ] {
            assert_eq!(check_signal(good), Ok(()), "{good}");
        }
        for bad in ["NOPE", "0", "SIGRTMIN+16", "[\"SIGTERM\"]", ""] {
            assert_eq!(
                check_signal(bad),
                Err(format!("Invalid signal: {bad}")),
                "{bad}"
            );
        }
    }

    #[test]
    fn durations_like_go() {
        assert_eq!(parse_duration("30s"), Ok(30_000_000_000));
        assert_eq!(parse_duration("1.5h"), Ok(5_400_000_000_000));
        assert_eq!(parse_duration("2h45m"), Ok(9_900_000_000_000));
        assert_eq!(parse_duration("-1ms"), Ok(-1_000_000));
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("500us"), Ok(500_000));
        assert_eq!(parse_duration(".5s"), Ok(500_000_000));
        assert_eq!(
            parse_duration("abc").unwrap_err(),
            "time: invalid duration \"abc\""
        );
        assert_eq!(
            parse_duration("5").unwrap_err(),
            "time: missing unit in duration \"5\""
        );
        assert_eq!(
            parse_duration("5x").unwrap_err(),
            "time: unknown unit \"x\" in duration \"5x\""
        );
        assert_eq!(
            parse_duration("").unwrap_err(),
            "time: invalid duration \"\""
        );
        assert!(parse_duration("9999999999h").is_err());
        assert_eq!(parse_duration("0.000000001s"), Ok(1));
        assert_eq!(
            parse_duration("1.00000000000000000000001s"),
            Ok(1_000_000_000)
        );
        assert_eq!(parse_duration("-2562047h47m16.854775808s"), Ok(i64::MIN));
        assert!(parse_duration("2562047h47m16.854775808s").is_err());
    }

    #[test]
    fn ints_like_go() {
        assert_eq!(parse_int("3", 32), Ok(3));
        assert_eq!(parse_int("-3", 32), Ok(-3));
        assert_eq!(parse_int("+7", 64), Ok(7));
        assert_eq!(
            parse_int("x", 32).unwrap_err().0,
            "strconv.ParseInt: parsing \"x\": invalid syntax"
        );
        assert_eq!(
            parse_int("2147483648", 32).unwrap_err().0,
            "strconv.ParseInt: parsing \"2147483648\": value out of range"
        );
        assert_eq!(parse_int("-2147483648", 32), Ok(-2147483648));
        assert!(parse_int("1_000", 64).is_err());
    }

    #[test]
    fn chmod_values_like_buildkit() {
        for ok in [
            "755", "0644", "7777", "0", "u+x", "go-w", "a=rwx", "u+x,g-w", "=", "+t",
        ] {
            assert_eq!(check_chmod(ok), Ok(()), "{ok}");
        }
        assert_eq!(
            check_chmod("64a").unwrap_err(),
            "invalid chmod parameter: '64a'. it should be octal string and between 0 and 07777"
        );
        assert_eq!(
            check_chmod("10000").unwrap_err(),
            "invalid chmod parameter: '10000'. it should be octal string and between 0 and 07777"
        );
        assert_eq!(check_chmod("u+q").unwrap_err(), "invalid syntax");
        assert_eq!(check_chmod("u").unwrap_err(), "invalid syntax");
        assert_eq!(check_chmod("u+x,").unwrap_err(), "invalid syntax");
    }

    #[test]
    fn digests_like_go_digest() {
        let hex64 = "a".repeat(64);
        assert_eq!(check_digest(&format!("sha256:{hex64}")), Ok(()));
        assert_eq!(
            check_digest("md5:7e55db001d319a94b0b713529a756623").unwrap_err(),
            "unsupported digest algorithm"
        );
        assert_eq!(
            check_digest(&format!("unknown:{hex64}")).unwrap_err(),
            "unsupported digest algorithm"
        );
        assert_eq!(
            check_digest(&hex64).unwrap_err(),
            "invalid checksum digest format"
        );
        assert_eq!(
            check_digest("sha256:abc").unwrap_err(),
            "invalid checksum digest length"
        );
        assert_eq!(
            check_digest(&format!("sha256:{}", "A".repeat(64))).unwrap_err(),
            "invalid checksum digest format"
        );
        assert_eq!(
            check_digest("Sha256:x").unwrap_err(),
            "invalid checksum digest format"
        );
    }
}
