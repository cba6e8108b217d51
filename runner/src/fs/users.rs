//! User and group names, resolved the way the engines' builders do: from the image's own
//! `/etc/passwd` and `/etc/group`.
//!
//! Input: a `user[:group]` spec (names or numbers) and the two files' contents.
//! Output: numeric uid and gid, and a note for each name the files lack.
//! Invariant: pure; a number is taken as is; a name missing from the files is id 0 (a group:
//! the user's primary group), as BuildKit's `readUser` owns files, with a note naming it.

/// Numeric owner ids, and what could not be found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// uid and gid.
    pub ids: (u64, u64),
    /// One note for each name that is in neither file (its part of `ids` is BuildKit's
    /// fallback).
    pub unknown: Vec<String>,
}

/// Resolves `spec` (`user`, `user:group`, `uid:gid`, ...) to numeric ids. A named user without
/// a group takes its primary group from passwd; a numeric one takes gid = uid, as BuildKit owns
/// files for `--chown=1000` and directories a WORKDIR makes under `USER 1000`. A user name
/// missing from passwd is 0:0 and a group name missing from group keeps the user's group, as in
/// BuildKit (which says nothing; [`Owner::unknown`] says it).
pub fn resolve(spec: &str, passwd: &str, group: &str) -> Owner {
    let (user, group_name) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let mut unknown = Vec::new();
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
            _ => {
                unknown.push(format!(
                    "user \"{user}\" is not in the image's /etc/passwd, so it is uid 0 (as in BuildKit); use a numeric uid or add the user first"
                ));
                (0, 0)
            }
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
                .unwrap_or_else(|| {
                    unknown.push(format!(
                        "group \"{g}\" is not in the image's /etc/group, so it is gid {primary_gid} (as in BuildKit); use a numeric gid or add the group first"
                    ));
                    primary_gid
                }),
        },
    };
    Owner {
        ids: (uid, gid),
        unknown,
    }
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
        let ids = |spec: &str| {
            let owner = resolve(spec, PASSWD, GROUP);
            assert!(owner.unknown.is_empty(), "{spec}: {:?}", owner.unknown);
            owner.ids
        };
        assert_eq!(ids("user"), (1000, 1001));
        assert_eq!(ids("user:staff"), (1000, 50));
        assert_eq!(ids("1000"), (1000, 1000));
        assert_eq!(ids("42:7"), (42, 7));
        assert_eq!(ids("42"), (42, 42));
        assert_eq!(ids("1234:"), (1234, 0));
        assert_eq!(ids(":5678"), (0, 5678));
        assert!(needs_lookup("user:1"));
        assert!(!needs_lookup("1000"));
        assert!(!needs_lookup("1234:"));
        assert!(!needs_lookup("1:2"));
    }

    #[test]
    fn unknown_names_fall_back_as_in_buildkit_and_are_named() {
        let owner = resolve("ghost", PASSWD, GROUP);
        assert_eq!(owner.ids, (0, 0));
        assert!(
            owner.unknown[0].contains("\"ghost\""),
            "{:?}",
            owner.unknown
        );
        // An unknown group keeps the user's primary group.
        let owner = resolve("user:ghosts", PASSWD, GROUP);
        assert_eq!(owner.ids, (1000, 1001));
        assert!(
            owner.unknown[0].contains("\"ghosts\""),
            "{:?}",
            owner.unknown
        );
        let owner = resolve("ghost:staff", "", GROUP);
        assert_eq!(owner.ids, (0, 50));
        assert_eq!(owner.unknown.len(), 1);
    }
}
