package dev.m2mfa.authority.store;

import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;

/** The SQLite backend against the store contract, on a real database file. */
class SqliteStoreTest extends StoreContract {
  @TempDir Path dir;

  @Override
  protected Store openFresh() {
    return JdbcStore.openSqlite(dir.resolve("test.db"));
  }

  @Override
  protected Store reopen() {
    return JdbcStore.openSqlite(dir.resolve("test.db"));
  }
}
