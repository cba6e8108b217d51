//! The translation of a plan into LLB, BuildKit's build graph: a pure function.
//!
//! Input: [`types::TranslateInput`]: the plan, the configs of the base images (resolved by the
//! daemon beforehand), the session id and ignore patterns of the build context, the daemon's
//! LLB capabilities and the build options.
//! Output: [`types::Translation`]: for each target stage an LLB definition and the image config
//! the exporter gets (`containerimage.config`); which op performs which instruction (for
//! progress and errors); the entitlements the solve needs.
//! Invariant: no I/O, clock or environment — the same input gives byte-identical definitions.
//! One module per kind of instruction, as BuildKit's frontend splits `convert_*.go`:
//! [`convert_source`] (FROM, context, images), [`convert_run`] and [`convert_runmount`],
//! [`convert_copy`] (COPY and ADD), [`convert_workdir`], [`convert_metadata`] (everything that
//! only changes the config); [`dispatch`] drives them over the plan's stages and [`translate`] is
//! the entry.
//! This file only declares the modules: the data types live in [`types`], the shared state of a
//! translation in [`translator`], op fields in [`ops`], so every module depends one way.

pub mod convert_copy;
pub mod convert_metadata;
pub mod convert_run;
pub mod convert_runmount;
pub mod convert_source;
pub mod convert_workdir;
pub mod dispatch;
pub mod exec;
pub mod file_actions;
pub mod graph;
pub mod image;
pub mod ops;
pub mod reference;
pub mod state;
pub mod translate;
pub mod translator;
pub mod types;
pub mod values;
pub mod words;

#[cfg(test)]
mod tests;
