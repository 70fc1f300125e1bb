//! Embeds `tests/fixtures/migrations-failing/` (see `plinth_migration_lint::build`).

fn main() {
    plinth_migration_lint::build::embed_migrations("../../fixtures/migrations-failing");
}
