//! Postgres: see the SQLite store's module of the same name for what each function does.

use super::*;
