//! Stack setup: the resources infra/template.yaml creates, made on the emulator with the SDK, for
//! one MA (ingest), two MAs exchanging permits, the notification side, the environment each
//! function reads, and the `setup`/`run` commands that do it by hand.

pub mod exchange;
pub mod hand_run;
pub mod notify;
pub mod setup;
pub mod template_env;
