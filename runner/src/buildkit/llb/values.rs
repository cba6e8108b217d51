//! Values in the formats of BuildKit's Go code: Go string quoting (history entries), Go
//! durations (HEALTHCHECK), port specs (EXPOSE, docker/go-connections) and signal names
//! (STOPSIGNAL, moby's signal table).
//!
//! Input: the text of one value.
//! Output: the parsed value, or BuildKit's message for a bad one.
//! Invariant: pure functions; the same answers as the Go functions they follow.

/// Go's `%q` of a string slice: `["a" "b"]`.
pub fn go_quote_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|item| go_quote(item)).collect();
    format!("[{}]", quoted.join(" "))
}

/// Go's `strconv.Quote`.
pub fn go_quote(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `time.Duration.String` for whole seconds and sub-second values.
pub fn go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_string();
    }
    if nanos % 1_000_000_000 == 0 {
        let seconds = nanos / 1_000_000_000;
        let (h, m, s) = (seconds / 3600, (seconds / 60) % 60, seconds % 60);
        return match (h, m) {
            (0, 0) => format!("{s}s"),
            (0, _) => format!("{m}m{s}s"),
            _ => format!("{h}h{m}m{s}s"),
        };
    }
    if nanos < 1_000 {
        format!("{nanos}ns")
    } else if nanos < 1_000_000 {
        format!("{}µs", nanos as f64 / 1e3)
    } else if nanos < 1_000_000_000 {
        format!("{}ms", nanos as f64 / 1e6)
    } else {
        format!("{}s", nanos as f64 / 1e9)
    }
}

/// A HEALTHCHECK duration flag: Go's `time.ParseDuration`, at least 1ms (0 when absent).
pub fn duration_flag(flag: &str, text: Option<&str>) -> Result<i64, String> {
    let Some(text) = text else {
        return Ok(0);
    };
    let nanos = parse_go_duration(text).ok_or_else(|| {
        format!("invalid --{flag} value {text:?}: use a duration such as 30s, 1m30s or 500ms")
    })?;
    if nanos < 0 {
        return Err(format!("--{flag} {text:?} cannot be negative"));
    }
    if nanos != 0 && nanos < 1_000_000 {
        return Err(format!("--{flag} {text:?} cannot be less than 1ms"));
    }
    Ok(nanos)
}

/// Go's `time.ParseDuration`: a sequence of decimal numbers with units ns, us, µs, ms, s, m, h.
pub fn parse_go_duration(text: &str) -> Option<i64> {
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if number_len == 0 {
            return None;
        }
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * scale;
    }
    let nanos = total.round() as i64;
    Some(if negative { -nanos } else { nanos })
}

/// docker/go-connections' `nat.ParsePortSpecs` keys: `port/proto` for each exposed port, ranges
/// expanded, protocol lower-cased, an `ip:host:` prefix ignored; sorted and unique.
pub fn parse_port_specs(specs: &[String]) -> Result<Vec<String>, String> {
    let mut keys = std::collections::BTreeSet::new();
    for raw in specs {
        let parts: Vec<&str> = raw.split(':').collect();
        let container = parts[parts.len() - 1];
        let ip = match parts.len() {
            1 | 2 => "",
            3 => parts[0],
            _ => "",
        };
        let ip = ip.trim_start_matches('[').trim_end_matches(']');
        if !ip.is_empty() && ip.parse::<std::net::IpAddr>().is_err() {
            return Err(format!("invalid IP address: {ip}"));
        }
        let (proto, port) = split_proto_port(container);
        if port.is_empty() {
            return Err(format!("no port specified: {raw}<empty>"));
        }
        let (start, end) =
            parse_port_range(port).ok_or_else(|| format!("invalid containerPort: {port}"))?;
        let proto = proto.to_ascii_lowercase();
        if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
            return Err(format!("invalid proto: {proto}"));
        }
        for port in start..=end {
            keys.insert(format!("{port}/{proto}"));
        }
    }
    Ok(keys.into_iter().collect())
}

pub fn split_proto_port(raw: &str) -> (&str, &str) {
    let parts: Vec<&str> = raw.split('/').collect();
    if raw.is_empty() || parts[0].is_empty() {
        return ("", "");
    }
    if parts.len() == 1 || parts[1].is_empty() {
        return ("tcp", parts[0]);
    }
    (parts[1], parts[0])
}

pub fn parse_port_range(text: &str) -> Option<(u16, u16)> {
    match text.split_once('-') {
        None => {
            let port: u16 = text.parse().ok()?;
            Some((port, port))
        }
        Some((start, end)) => {
            let start: u16 = start.parse().ok()?;
            let end: u16 = end.parse().ok()?;
            (start <= end).then_some((start, end))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_follow_go_connections() {
        let words: Vec<String> = ["80", "81/UDP", "127.0.0.1:8080:90", "100-102/tcp"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            parse_port_specs(&words).unwrap(),
            vec!["100/tcp", "101/tcp", "102/tcp", "80/tcp", "81/udp", "90/tcp"]
        );
        assert!(parse_port_specs(&["80/icmp".to_string()]).is_err());
        assert!(parse_port_specs(&["x".to_string()]).is_err());
    }

    #[test]
    fn durations_and_signals() {
        assert_eq!(parse_go_duration("1m30s"), Some(90_000_000_000));
        assert_eq!(parse_go_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_go_duration("500ms"), Some(500_000_000));
        assert_eq!(parse_go_duration("5"), None);
        assert!(duration_flag("interval", Some("1us")).is_err());
        assert_eq!(go_duration(90_000_000_000), "1m30s");
        assert_eq!(
            go_quote_list(&["/bin/sh".into(), "-c".into(), "echo \"hi\"".into()]),
            r#"["/bin/sh" "-c" "echo \"hi\""]"#
        );
    }
}
