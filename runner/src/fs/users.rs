//! User and group names, resolved the way the engines' builders do: from the image's own
//! `/etc/passwd` and `/etc/group`.
//!
//! Input: a `user[:group]` spec (names or numbers) and the two files' contents.
//! Output: numeric uid and gid.
//! Invariant: pure; a name missing from the files is an error naming it, a number is taken as is.

/// Resolves `spec` (`user`, `user:group`, `uid:gid`, ...) to numeric ids. A named user without
/// a group takes its primary group from passwd; a numeric one takes gid = uid, as BuildKit owns
/// files for `--chown=1000` and directories a WORKDIR makes under `USER 1000`.
pub fn resolve(spec: &str, passwd: &str, group: &str) -> Result<(u64, u64), String> {
    let (user, group_name) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let passwd_entry = |field: usize, value: &str| {
        passwd.lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.len() >= 4 && fields[field] == value)
                .then(|| (fields[2].parse::<u64>().ok(), fields[3].parse::<u64>().ok()))
        })
    };
    // An empty part is id 0, as BuildKit reads `--chown=1234:` and `--chown=:5678`.
    let (uid, primary_gid) = match user.parse::<u64>() {
        Err(_) if user.is_empty() => (0, 0),
        // BuildKit's owner of a numeric user is uid:uid, whatever /etc/passwd says.
        Ok(uid) => (uid, uid),
        Err(_) => match passwd_entry(0, user) {
            Some((Some(uid), Some(gid))) => (uid, gid),
            _ => return Err(format!("user \"{user}\" is not in the image's /etc/passwd; use a numeric uid or add the user first")),
        },
    };
    let gid = match group_name {
        None => primary_gid,
        Some("") => 0,
        Some(g) => match g.parse::<u64>() {
            Ok(gid) => gid,
            Err(_) => group
                .lines()
                .find_map(|line| {
                    let fields: Vec<&str> = line.split(':').collect();
                    (fields.len() >= 3 && fields[0] == g).then(|| fields[2].parse::<u64>().ok())
                })
                .flatten()
                .ok_or_else(|| format!("group \"{g}\" is not in the image's /etc/group; use a numeric gid or add the group first"))?,
        },
    };
    Ok((uid, gid))
}

/// Whether resolving `spec` needs the image's files: it names a user or a group.
pub fn needs_lookup(spec: &str) -> bool {
    spec.split(':')
        .any(|part| !part.is_empty() && part.parse::<u64>().is_err())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1001:u:/home/user:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nstaff:x:50:\nuser:x:1001:\n";

    #[test]
    fn resolves_names_and_numbers() {
        assert_eq!(resolve("user", PASSWD, GROUP), Ok((1000, 1001)));
        assert_eq!(resolve("user:staff", PASSWD, GROUP), Ok((1000, 50)));
        assert_eq!(resolve("1000", PASSWD, GROUP), Ok((1000, 1000)));
        assert_eq!(resolve("42:7", PASSWD, GROUP), Ok((42, 7)));
        assert_eq!(resolve("42", PASSWD, GROUP), Ok((42, 42)));
        assert!(resolve("ghost", PASSWD, GROUP)
            .unwrap_err()
            .contains("\"ghost\""));
        assert!(resolve("user:ghosts", PASSWD, GROUP).is_err());
        assert!(needs_lookup("user:1"));
        assert!(!needs_lookup("1000"));
        assert_eq!(resolve("1234:", PASSWD, GROUP), Ok((1234, 0)));
        assert_eq!(resolve(":5678", PASSWD, GROUP), Ok((0, 5678)));
        assert!(!needs_lookup("1234:"));
        assert!(!needs_lookup("1:2"));
    }
}
