//! Embeds `migrations/` (see `plinth_migration_lint::build`).

fn main() {
    plinth_migration_lint::build::embed_migrations("../../migrations");
}
