//! The exit codes of `run` and `submit`, the same for both so that scripts read them alike.

pub const ALL_SUCCEEDED: u8 = 0;
pub const SOME_FAILED: u8 = 1;
/// The file, the config or the targets cannot be used; nothing was provisioned from it.
pub const UNUSABLE: u8 = 2;
/// `submit` stopped following (its timeout); the job goes on.
pub const STILL_RUNNING: u8 = 3;
pub const INTERRUPTED: u8 = 130;
