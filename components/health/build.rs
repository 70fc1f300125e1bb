//! Embeds `migrations/` so that readiness knows the newest revision.

fn main() {
    plinth_migration_lint::build::embed_migrations("../../migrations");
}
