//! The commands. Each takes plain options and the printer, never clap types.

mod info;
mod new;
mod regen;

pub use info::{list, show};
pub use new::{new, new_state, new_with, NewOptions};
pub use regen::{check, diff, moves, regen};
