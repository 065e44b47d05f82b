package dev.m2mfa.authority.audit;

import static org.assertj.core.api.Assertions.assertThat;

import dev.m2mfa.authority.store.JdbcStore;
import dev.m2mfa.authority.store.Store;
import java.nio.file.Path;
import java.sql.DriverManager;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AuditLogTest {
  @TempDir Path dir;

  private void fill(int n) {
    try (Store store = JdbcStore.openSqlite(dir.resolve("a.db")); AuditLog log = new AuditLog(store)) {
      List<CompletableFuture<Void>> all = new ArrayList<>();
      for (int i = 0; i < n; i++) all.add(log.append("login.allowed", "m" + i, Map.of("i", i)));
      CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).join();
    }
  }

  private AuditLog.Verification verify() {
    try (Store store = JdbcStore.openSqlite(dir.resolve("a.db"))) {
      return AuditLog.verify(store);
    }
  }

  private void sql(String statement) throws Exception {
    try (var c = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("a.db")); var s = c.createStatement()) {
      s.executeUpdate(statement);
    }
  }

  @Test
  void concurrentAppendsFormOneIntactChainAcrossRestarts() {
    fill(300);
    fill(200);
    AuditLog.Verification v = verify();
    assertThat(v.ok()).isTrue();
    assertThat(v.records()).isEqualTo(500);
    assertThat(v.firstBroken()).isNull();
  }

  @Test
  void editedRecordIsNamed() throws Exception {
    fill(50);
    sql("UPDATE audit_log SET detail = '{\"i\":999}' WHERE seq = 17");
    assertThat(verify()).isEqualTo(new AuditLog.Verification(false, 50, 17L));
  }

  @Test
  void deletedRecordIsNamed() throws Exception {
    fill(50);
    sql("DELETE FROM audit_log WHERE seq = 30");
    AuditLog.Verification v = verify();
    assertThat(v.ok()).isFalse();
    assertThat(v.firstBroken()).isEqualTo(31L);
  }

  @Test
  void rehashedRecordStillBreaksTheNextLink() throws Exception {
    fill(20);
    sql("UPDATE audit_log SET subject = 'forged', hash = 'ab' WHERE seq = 5");
    assertThat(verify().firstBroken()).isEqualTo(5L);
  }
}
