//! The pages, one module each. Every page reads [`crate::state::SessionState::ready`] and renders
//! nothing of the organisation without it.
//!
//! - [`projects`]: the Projects the user sees.
//! - [`project`]: one Project, its actions and the rows the user may see.
//! - [`messaging`]: groups, direct messages, announcements.
//! - [`search`]: global search, every result filtered as it renders.
//! - [`why`]: the "Why can't I?" panel of a denied action.
//! - [`admin`]: a managed person's denials, with Preview and Apply where the server allows.
//!
//! Widgets more than one page uses live in [`crate::widgets`]; the header, status bar,
//! banner and navigation in [`crate::ui`].

pub mod admin;
pub mod messaging;
pub mod project;
pub mod projects;
pub mod search;
pub mod why;
