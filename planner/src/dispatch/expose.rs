//! EXPOSE as BuildKit dispatches it (dockerfile2llb/convert_expose.go): each word is expanded
//! and split with the stage environment, then read as `[ip:][hostPort:]containerPort[/proto]`;
//! an upper-case protocol gets `ExposeProtoCasing`, an IP address or host port
//! `ExposeInvalidFormat`, and what BuildKit refuses is an error.
//!
//! Input: the EXPOSE words. Output: diagnostics. Invariant: the texts are BuildKit's.

use super::{Dispatcher, Failed, Place};
use crate::checks::Rule;
use crate::instructions::Instr;
use crate::plan::Op;
use crate::values::go_quote;

/// What reading one port found: the lints, or the error.
#[derive(Debug, Default, PartialEq, Eq)]
struct PortCheck {
    proto_casing: bool,
    invalid_format: bool,
}

/// Go's `net.ParseIP` as a yes/no: dotted IPv4 (no leading zeros), or IPv6 with at most one
/// `::` and an optional dotted IPv4 tail.
fn is_ip(text: &str) -> bool {
    is_ipv4(text) || is_ipv6(text)
}

fn is_ipv4(text: &str) -> bool {
    let fields: Vec<&str> = text.split('.').collect();
    fields.len() == 4
        && fields.iter().all(|field| {
            !field.is_empty()
                && field.len() <= 3
                && field.bytes().all(|b| b.is_ascii_digit())
                && !(field.len() > 1 && field.starts_with('0'))
                && field.parse::<u16>().is_ok_and(|n| n <= 255)
        })
}

fn is_ipv6(text: &str) -> bool {
    let (head, tail, compressed) = match text.split_once("::") {
        Some((head, tail)) => (head, tail, true),
        None => (text, "", false),
    };
    if tail.contains("::") {
        return false;
    }
    let mut groups = 0;
    for (part_idx, part) in [head, tail].into_iter().enumerate() {
        if part.is_empty() {
            continue;
        }
        let pieces: Vec<&str> = part.split(':').collect();
        for (idx, piece) in pieces.iter().enumerate() {
            let last = idx + 1 == pieces.len() && (part_idx == 1 || !compressed);
            if last && piece.contains('.') {
                if !is_ipv4(piece) {
                    return false;
                }
                groups += 2;
            } else if piece.is_empty()
                || piece.len() > 4
                || !piece.bytes().all(|b| b.is_ascii_hexdigit())
            {
                return false;
            } else {
                groups += 1;
            }
        }
    }
    if compressed {
        groups < 8
    } else {
        groups == 8
    }
}

/// BuildKit `parsePortNumber`: a decimal in 0..=65535 (`+` allowed, as `strconv.ParseInt`).
fn port_number(text: &str) -> Option<u32> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || text.starts_with('-') {
        return None;
    }
    digits.parse::<u32>().ok().filter(|port| *port <= 65_535)
}

/// BuildKit `parsePortRange`: `start` or `start-end`; the number of ports in it.
fn port_range(text: &str) -> Option<u32> {
    if text.is_empty() {
        return None;
    }
    let (start, end) = match text.split_once('-') {
        Some((start, end)) => (start, Some(end)),
        None => (text, None),
    };
    let first = port_number(start)?;
    match end {
        None => Some(1),
        Some(end) if end == start => Some(1),
        Some(end) => {
            let last = port_number(end)?;
            (last >= first).then(|| last - first + 1)
        }
    }
}

/// BuildKit `parsePort` for one expanded word.
fn check_port(raw: &str) -> Result<PortCheck, String> {
    let parts: Vec<&str> = raw.split(':').collect();
    let (ip, host_port, container) = match parts.as_slice() {
        [container] => ("".to_string(), "", *container),
        [host, container] => ("".to_string(), *host, *container),
        [ip, host, container] => (ip.to_string(), *host, *container),
        more => {
            let n = more.len();
            (more[..n - 2].join(":"), more[n - 2], more[n - 1])
        }
    };
    let (port, proto) = container.split_once('/').unwrap_or((container, ""));
    if port.is_empty() {
        return Err(format!(
            "invalid port: {}: no port specified",
            go_quote(raw)
        ));
    }
    if !matches!(
        proto.to_ascii_lowercase().as_str(),
        "" | "tcp" | "udp" | "sctp"
    ) {
        return Err(format!(
            "invalid port: {}: invalid proto: {proto}",
            go_quote(raw)
        ));
    }
    let check = PortCheck {
        proto_casing: proto != proto.to_lowercase(),
        invalid_format: !ip.is_empty() || !host_port.is_empty(),
    };
    let mut address = ip.as_str();
    if let Some(bracketed) = address.strip_prefix('[') {
        address = bracketed.strip_suffix(']').ok_or_else(|| {
            format!("invalid IP address {ip}: address {ip}:: missing ']' in address")
        })?;
    }
    if !address.is_empty() && !is_ip(address) {
        return Err(format!("invalid IP address: {address}"));
    }
    let count = port_range(port).ok_or_else(|| format!("invalid containerPort: {port}"))?;
    if !host_port.is_empty() {
        let host_count =
            port_range(host_port).ok_or_else(|| format!("invalid hostPort: {host_port}"))?;
        if count != host_count && count != 1 {
            return Err(format!(
                "invalid ranges specified for container and host Ports: {port} and {host_port}"
            ));
        }
    }
    Ok(check)
}

impl Dispatcher<'_, '_> {
    /// Dispatches an EXPOSE.
    pub(super) fn expose(&mut self, instr: &Instr, place: Place) -> Result<(), Failed> {
        let Op::Expose { ports } = &instr.plan.op else {
            return Ok(());
        };
        for word in ports {
            let words = match self.ctx.lexer.process_words(word, &self.env) {
                Ok(words) => words,
                Err(error) => {
                    self.sink.error("ExpansionError", error.message, place.span);
                    return Err(Failed);
                }
            };
            for raw in words {
                let check = match check_port(&raw) {
                    Ok(check) => check,
                    Err(message) => {
                        self.sink.error("InvalidPort", message, place.span);
                        return Err(Failed);
                    }
                };
                if check.proto_casing {
                    let message = format!(
                        "Defined protocol '{raw}' in EXPOSE instruction should be lowercase"
                    );
                    self.sink
                        .lint(place.comments, Rule::ExposeProtoCasing, message, place.span);
                }
                if check.invalid_format {
                    let message = format!(
                        "EXPOSE instruction should not define an IP address or host-port mapping, found '{raw}'"
                    );
                    self.sink.lint(
                        place.comments,
                        Rule::ExposeInvalidFormat,
                        message,
                        place.span,
                    );
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_like_buildkit() {
        assert_eq!(check_port("80"), Ok(PortCheck::default()));
        assert_eq!(check_port("8000-8010/udp"), Ok(PortCheck::default()));
        assert!(check_port("80/TcP").unwrap().proto_casing);
        assert!(check_port("127.0.0.1:80:80").unwrap().invalid_format);
        assert!(check_port("[::1]:8080:8080").unwrap().invalid_format);
        assert!(check_port("5000:5000").unwrap().invalid_format);
        assert_eq!(
            check_port("80/xyz").unwrap_err(),
            "invalid port: \"80/xyz\": invalid proto: xyz"
        );
        assert_eq!(
            check_port("/tcp").unwrap_err(),
            "invalid port: \"/tcp\": no port specified"
        );
        assert_eq!(check_port("abc").unwrap_err(), "invalid containerPort: abc");
        assert_eq!(
            check_port("70000").unwrap_err(),
            "invalid containerPort: 70000"
        );
        assert_eq!(check_port("9-8").unwrap_err(), "invalid containerPort: 9-8");
        assert_eq!(
            check_port("1.2.3:80:80").unwrap_err(),
            "invalid IP address: 1.2.3"
        );
        assert_eq!(
            check_port("8000-8001:80-82").unwrap_err(),
            "invalid ranges specified for container and host Ports: 80-82 and 8000-8001"
        );
        assert_eq!(
            check_port("8000-8010:80"),
            Ok(PortCheck {
                proto_casing: false,
                invalid_format: true
            })
        );
    }
}
