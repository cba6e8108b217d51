//! The golden case format: `cases/<name>/case.json` next to the case's build context.
//!
//! Input: the text of a `case.json`.
//! Output: a [`Case`] (what to build, how to prepare the context, what to expect).
//! Invariant: unknown fields are rejected, so a misspelt option can never be silently ignored.

use std::collections::BTreeMap;

use serde::Deserialize;

/// One differential case. The case directory, minus `case.json` and every entry whose name
/// starts with `_`, is the build context both builders get.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// What the case covers, in a sentence.
    pub about: String,
    /// `--target`; default: the last stage.
    #[serde(default)]
    pub target: Option<String>,
    /// `-f`: the Dockerfile's path inside the context; default: none given (both builders look
    /// for `Dockerfile` themselves).
    #[serde(default)]
    pub dockerfile: Option<String>,
    /// `--build-arg KEY=VALUE` for both builders.
    #[serde(default)]
    pub build_args: BTreeMap<String, String>,
    /// `--secret id=ID,src=FILE` for both builders: id → file content (written outside the
    /// context at run time).
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// Context preparation git cannot store, applied in order to the copied context.
    #[serde(default)]
    pub setup: Vec<Setup>,
    /// Images built first (with BuildKit, from a `_`-directory of the case) and handed to both
    /// builds as `--build-arg ARG=<image>`.
    #[serde(default)]
    pub images: Vec<Prerequisite>,
    /// More runner arguments (e.g. `--isolate-runs`).
    #[serde(default)]
    pub runner_args: Vec<String>,
    /// Also build in the plan form (planner library → plan.json → `runner plan.json`).
    #[serde(default)]
    pub plan_form: bool,
    /// For syntax this engine's BuildKit cannot build: the equivalent build context BuildKit
    /// builds instead, and the BuildKit source that defines the equivalence.
    #[serde(default)]
    pub reference: Option<Reference>,
    /// Contents asserted on every image of the case (runner and BuildKit alike).
    #[serde(default)]
    pub expect: Option<Expectations>,
    /// A deliberate, documented difference from BuildKit (runner/README.md) this case shows.
    #[serde(default)]
    pub reason: Option<String>,
    /// The LLB capability that the BuildKit backend needs for this case and an older BuildKit
    /// (such as this engine's) lacks: on such a daemon the backend must refuse the build with a
    /// message naming it (docs/buildkit-backend.md); where the daemon has it, the backend's
    /// image is compared like every other.
    #[serde(default)]
    pub buildkit_backend_needs: Option<String>,
    /// Why the BuildKit backend cannot follow the reference on this engine: current BuildKit
    /// changed what the daemon itself does for this step, and the ops this engine's BuildKit
    /// has cannot do the same (docs/buildkit-backend.md). The backend's image is then held
    /// against this engine's BuildKit building the case's own context, identical as always.
    #[serde(default)]
    pub buildkit_backend_follows_engine: Option<String>,
}

/// A step of context preparation.
#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Setup {
    /// An empty directory (git keeps none).
    Mkdir {
        /// Path in the context.
        path: String,
    },
    /// A symbolic link.
    Symlink {
        /// Path in the context.
        path: String,
        /// Link target, as written.
        target: String,
    },
    /// A unix socket (bound, then the listener is closed; the socket file stays).
    Socket {
        /// Path in the context.
        path: String,
    },
    /// A named pipe.
    Fifo {
        /// Path in the context.
        path: String,
    },
    /// Permission bits, octal (setuid, setgid and sticky included).
    Chmod {
        /// Path in the context.
        path: String,
        /// Octal mode, e.g. `"4755"`.
        mode: String,
    },
    /// Owner and group (not following symlinks).
    Chown {
        /// Path in the context.
        path: String,
        /// Owner id.
        uid: u32,
        /// Group id.
        gid: u32,
    },
    /// A tar archive of a `_`-directory of the case, made with GNU tar.
    Tar {
        /// Path of the archive in the context.
        path: String,
        /// The directory of the case whose contents are archived.
        from: String,
        /// `none`, `gzip`, `bzip2` or `xz`.
        compress: String,
        /// Owner id recorded for every member (default: the files' own).
        #[serde(default)]
        uid: Option<u32>,
        /// Group id recorded for every member.
        #[serde(default)]
        gid: Option<u32>,
    },
    /// A hard link: a second name for an existing file of the context.
    Hardlink {
        /// The new name, in the context.
        path: String,
        /// The existing file, in the context.
        target: String,
    },
    /// A tar archive written member by member, as BuildKit's tests write theirs: members may
    /// lack their parent directories, point outside the archive or link to each other, which
    /// an archive of a real directory cannot show.
    TarMembers {
        /// Path of the archive in the context.
        path: String,
        /// Compress the archive with gzip.
        #[serde(default)]
        gzip: bool,
        /// The members, in archive order.
        members: Vec<TarMember>,
    },
    /// File capabilities (`setcap`), stored as the `security.capability` xattr.
    Setcap {
        /// Path in the context.
        path: String,
        /// Capabilities in `setcap` syntax, e.g. `cap_net_bind_service+ep`.
        caps: String,
    },
}

/// One member of a [`Setup::TarMembers`] archive.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TarMember {
    /// The member's name, as recorded (a directory's ends in `/`).
    pub name: String,
    /// `f` regular file, `d` directory, `l` symbolic link, `h` hard link.
    pub kind: char,
    /// Content of a regular file.
    #[serde(default)]
    pub content: String,
    /// Target of a symbolic or hard link, as recorded.
    #[serde(default)]
    pub link: String,
    /// Octal permission bits; default `0644` (`0755` for a directory, `0777` for a link).
    #[serde(default)]
    pub mode: Option<String>,
    /// Owner id recorded (default 0).
    #[serde(default)]
    pub uid: u64,
    /// Group id recorded (default 0).
    #[serde(default)]
    pub gid: u64,
}

/// An image built before the case.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prerequisite {
    /// The build argument that receives the image reference.
    pub arg: String,
    /// The case's `_`-directory holding the image's Dockerfile and context.
    pub dir: String,
}

/// The BuildKit side of a case whose Dockerfile this engine's BuildKit cannot build.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reference {
    /// The case's `_`-directory with the equivalent Dockerfile and context.
    pub dir: String,
    /// Where BuildKit defines the behaviour the equivalence rests on (test, source file).
    pub source: String,
    /// Preparation of the reference context.
    #[serde(default)]
    pub setup: Vec<Setup>,
    /// `Config` fields the reference cannot express (the syntax is missing from this engine's
    /// BuildKit altogether); each must be pinned by `expect.config` instead.
    #[serde(default)]
    pub except_config: Vec<String>,
}

/// Contents asserted on the images of a case.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectations {
    /// Where the expected values come from (a BuildKit test or the reference documentation).
    pub source: String,
    /// Absolute path → what the file must be.
    #[serde(default)]
    pub files: BTreeMap<String, ExpectedFile>,
    /// `Config` fields → their exact JSON value.
    #[serde(default)]
    pub config: BTreeMap<String, serde_json::Value>,
}

/// What one path of an image must be; unset fields are not checked.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedFile {
    /// The path must not exist.
    #[serde(default)]
    pub absent: bool,
    /// `f`, `d`, `l`, `p`, `c` or `b`.
    #[serde(default)]
    pub kind: Option<char>,
    /// Exact content (regular files).
    #[serde(default)]
    pub content: Option<String>,
    /// Octal permission bits, e.g. `"0644"`.
    #[serde(default)]
    pub mode: Option<String>,
    /// `uid:gid`.
    #[serde(default)]
    pub owner: Option<String>,
    /// Symlink target.
    #[serde(default)]
    pub link: Option<String>,
}
