//! The end-to-end tests are the `e2e` test target (`tests/e2e/main.rs`); this
//! library is intentionally empty.
