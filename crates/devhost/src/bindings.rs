//! Host bindings generated from `wit/` for the Spin imports devhost
//! implements itself (Postgres, Redis, variables). WASI bindings come from
//! wasmtime-wasi and wasmtime-wasi-http.

wasmtime::component::bindgen!({
    path: "wit",
    world: "plinth:devhost/host",
    imports: { default: async },
    with: {
        "spin:postgres/postgres.connection": crate::pg::PgConnection,
        "fermyon:spin/redis.connection": crate::redis::RedisConnection,
    },
});
