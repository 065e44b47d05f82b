package dev.m2mfa.authority.store;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.flywaydb.core.Flyway;

/**
 * {@link Store} over JDBC with portable SQL. The SQLite backend uses one connection in WAL
 * mode with {@code synchronous=FULL}, serialized by a lock: SQLite has one writer anyway, and
 * a single connection makes every transaction serializable without busy retries.
 */
public final class JdbcStore implements Store {
  private final Connection connection;
  private final ReentrantLock lock = new ReentrantLock();
  private final FactorStates factorStates = new JdbcFactorStates();
  private final Machines machines = new JdbcMachines();
  private final JoinTokens joinTokens = new JdbcJoinTokens();
  private final Revocations revocations = new JdbcRevocations();
  private final AuditRecords audit = new JdbcAudit();
  private final SigningKeys signingKeys = new JdbcSigningKeys();
  private final SshCertificates sshCertificates = new JdbcSshCertificates();

  private JdbcStore(Connection connection) {
    this.connection = connection;
  }

  /** Opens (creating if needed) the SQLite database file and migrates it. */
  public static JdbcStore openSqlite(Path file) {
    String url = "jdbc:sqlite:" + file.toAbsolutePath();
    Flyway.configure().dataSource(url, null, null).locations("classpath:db/migration").load().migrate();
    try {
      Connection c = DriverManager.getConnection(url);
      try (Statement s = c.createStatement()) {
        s.execute("PRAGMA journal_mode=WAL");
        s.execute("PRAGMA synchronous=FULL");
        s.execute("PRAGMA foreign_keys=ON");
        s.execute("PRAGMA busy_timeout=5000");
      }
      c.setAutoCommit(true);
      return new JdbcStore(c);
    } catch (SQLException e) {
      throw new StoreException("cannot open the database", e);
    }
  }

  @Override
  public Machines machines() {
    return machines;
  }

  @Override
  public JoinTokens joinTokens() {
    return joinTokens;
  }

  @Override
  public Revocations revocations() {
    return revocations;
  }

  @Override
  public AuditRecords audit() {
    return audit;
  }

  @Override
  public SigningKeys signingKeys() {
    return signingKeys;
  }

  @Override
  public FactorStates factorStates() {
    return factorStates;
  }

  @Override
  public <T> T transaction(Supplier<T> work) {
    lock.lock();
    try {
      if (lock.getHoldCount() > 1) return work.get();
      connection.setAutoCommit(false);
      try {
        T result = work.get();
        connection.commit();
        return result;
      } catch (RuntimeException | Error e) {
        connection.rollback();
        throw e;
      } finally {
        connection.setAutoCommit(true);
      }
    } catch (SQLException e) {
      throw new StoreException("transaction failed", e);
    } finally {
      lock.unlock();
    }
  }

  @Override
  public void close() {
    lock.lock();
    try {
      connection.close();
    } catch (SQLException e) {
      throw new StoreException("close failed", e);
    } finally {
      lock.unlock();
    }
  }

  private interface SqlWork<T> {
    T run(Connection c) throws SQLException;
  }

  private <T> T sql(SqlWork<T> work) {
    return transaction(() -> {
      try {
        return work.run(connection);
      } catch (SQLException e) {
        if (e.getMessage() != null && (e.getMessage().contains("UNIQUE") || e.getMessage().contains("PRIMARY KEY")
            || "23505".equals(e.getSQLState()))) {
          throw new DuplicateException("record");
        }
        throw new StoreException("database operation failed", e);
      }
    });
  }

  private static Long nullableLong(ResultSet rs, String col) throws SQLException {
    long v = rs.getLong(col);
    return rs.wasNull() ? null : v;
  }

  private static void setNullableLong(PreparedStatement ps, int i, Long v) throws SQLException {
    if (v == null) ps.setNull(i, java.sql.Types.BIGINT);
    else ps.setLong(i, v);
  }

  private final class JdbcMachines implements Machines {
    @Override
    public boolean replaceKey(String name, String publicKey, String keyThumbprint, String networks, long at) {
      return sql(c -> {
        try (PreparedStatement ps = c.prepareStatement(
            "UPDATE machines SET public_key = ?, key_thumbprint = ?, networks = ?, status = ?, updated_at = ? WHERE name = ?")) {
          ps.setString(1, publicKey);
          ps.setString(2, keyThumbprint);
          ps.setString(3, networks);
          ps.setString(4, MachineRecord.ACTIVE);
          ps.setLong(5, at);
          ps.setString(6, name);
          return ps.executeUpdate() == 1;
        }
      });
    }

    @Override
    public void insert(MachineRecord m) {
      sql(c -> {
        try (PreparedStatement ps = c.prepareStatement(
            "INSERT INTO machines(name, spiffe_id, policy_class, public_key, key_thumbprint, networks, status, enrolled_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?)")) {
          ps.setString(1, m.name());
          ps.setString(2, m.spiffeId());
          ps.setString(3, m.policyClass());
          ps.setString(4, m.publicKey());
          ps.setString(5, m.keyThumbprint());
          ps.setString(6, m.networks());
          ps.setString(7, m.status());
          ps.setLong(8, m.enrolledAt());
          ps.setLong(9, m.updatedAt());
          return ps.executeUpdate();
        }
      });
    }

    @Override
    public Optional<MachineRecord> find(String name) {
      return sql(c -> {
        try (PreparedStatement ps = c.prepareStatement("SELECT * FROM machines WHERE name = ?")) {
          ps.setString(1, name);
          try (ResultSet rs = ps.executeQuery()) {
            return rs.next() ? Optional.of(read(rs)) : Optional.empty();
          }
        }
      });
    }

    @Override
    public List<MachineRecord> list(String afterName, int limit) {
      return sql(c -> {
        try (PreparedStatement ps = c.prepareStatement("SELECT * FROM machines WHERE name > ? ORDER BY name LIMIT ?")) {
          ps.setString(1, afterName == null ? "" : afterName);
          ps.setInt(2, limit);
          List<MachineRecord> out = new ArrayList<>();
          try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) out.add(read(rs));
          }
          return out;
        }
      });
    }

    @Override
    public boolean setStatus(String name, String status, long at) {
      return sql(c -> {
        try (PreparedStatement ps = c.prepareStatement("UPDATE machines SET status = ?, updated_at = ? WHERE name = ?")) {
          ps.setString(1, status);
          ps.setLong(2, at);
          ps.setString(3, name);
          return ps.executeUpdate() == 1;
        }
      });
    }

    @Override
    public long count() {
      return sql(c -> {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT COUNT(*) FROM machines")) {
          rs.next();
          return rs.getLong(1);
        }
      });
    }

    private MachineRecord read(ResultSet rs) throws SQLException {
      return new MachineRecord(rs.getString("name"), rs.getString("spiffe_id"), rs.getString("policy_class"),
          rs.getString("public_key"), rs.getString("key_thumbprint"), rs.getString("networks"), rs.getString("status"),
          rs.getLong("enrolled_at"), rs.getLong("updated_at"));
    }
  }

  private final class JdbcJoinTokens implements JoinTokens {
    @Override
    public void insert(JoinTokenRecord t) {
      sql(c -> {
        try (PreparedStatement ps = c.prepareStatement(
            "INSERT INTO join_tokens(token_hash, machine_name, policy_class, networks, expires_at, created_at, used_at, purpose) VALUES (?,?,?,?,?,?,?,?)")) {
          ps.setString(1, t.tokenHash());
          ps.setString(2, t.machineName());
          ps.setString(3, t.policyClass());
          ps.setString(4, t.networks());
          ps.setLong(5, t.expiresAt());
          ps.setLong(6, t.createdAt());
          setNullableLong(ps, 7, t.usedAt());
          ps.setString(8, t.purpose());
          return ps.executeUpdate();
        }
      });
    }

    @Override
    public Optional<JoinTokenRecord> consume(String tokenHash, long now) {
      return sql(c -> {
        try (PreparedStatement up = c.prepareStatement(
            "UPDATE join_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?")) {
          up.setLong(1, now);
          up.setString(2, tokenHash);
          up.setLong(3, now);
          if (up.executeUpdate() != 1) return Optional.empty();
        }
        try (PreparedStatement ps = c.prepareStatement("SELECT * FROM join_tokens WHERE token_hash = ?")) {
          ps.setString(1, tokenHash);
          try (ResultSet rs = ps.executeQuery()) {
            rs.next();
            return Optional.of(new JoinTokenRecord(rs.getString("token_hash"), rs.getString("machine_name"),
                rs.getString("policy_class"), rs.getString("networks"), rs.getLong("expires_at"), rs.getLong("created_at"),
                nullableLong(rs, "used_at"), rs.getString("purpose")));
          }
        }
      });
    }
  }

  private final class JdbcRevocations implements Revocations {
    @Override
    public RevocationRecord append(String kind, String subject, String reason, long at) {
      return sql(c -> {
        long seq = latestSeq() + 1;
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO revocations(seq, kind, subject, reason, at) VALUES (?,?,?,?,?)")) {
          ps.setLong(1, seq);
          ps.setString(2, kind);
          ps.setString(3, subject);
          ps.setString(4, reason);
          ps.setLong(5, at);
          ps.executeUpdate();
        }
        return new RevocationRecord(seq, kind, subject, reason, at);
      });
    }

    @Override
    public List<RevocationRecord> after(long seq, int limit) {
      return sql(c -> {
        try (PreparedStatement ps = c.prepareStatement("SELECT * FROM revocations WHERE seq > ? ORDER BY seq LIMIT ?")) {
          ps.setLong(1, seq);
          ps.setInt(2, limit);
          List<RevocationRecord> out = new ArrayList<>();
          try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
              out.add(new RevocationRecord(rs.getLong("seq"), rs.getString("kind"), rs.getString("subject"),
                  rs.getString("reason"), rs.getLong("at")));
            }
          }
          return out;
        }
      });
    }

    @Override
    public long latestSeq() {
      return sql(c -> {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT COALESCE(MAX(seq), 0) FROM revocations")) {
          rs.next();
          return rs.getLong(1);
        }
      });
    }
  }

  private final class JdbcAudit implements AuditRecords {
    @Override
    public void appendAll(List<AuditRecord> records) {
      sql(c -> {
        try (PreparedStatement ps = c.prepareStatement(
            "INSERT INTO audit_log(seq, at, event, subject, detail, prev_hash, hash) VALUES (?,?,?,?,?,?,?)")) {
          for (AuditRecord r : records) {
            ps.setLong(1, r.seq());
            ps.setLong(2, r.at());
            ps.setString(3, r.event());
            ps.setString(4, r.subject());
            ps.setString(5, r.detail());
            ps.setString(6, r.prevHash());
            ps.setString(7, r.hash());
            ps.addBatch();
          }
          return ps.executeBatch();
        }
      });
    }

    @Override
    public Optional<AuditRecord> last() {
      return sql(c -> {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT * FROM audit_log ORDER BY seq DESC LIMIT 1")) {
          return rs.next() ? Optional.of(read(rs)) : Optional.empty();
        }
      });
    }

    @Override
    public void scan(long fromSeq, Consumer<AuditRecord> sink) {
      long next = fromSeq;
      while (true) {
        long from = next;
        List<AuditRecord> page = sql(c -> {
          try (PreparedStatement ps = c.prepareStatement("SELECT * FROM audit_log WHERE seq >= ? ORDER BY seq LIMIT 1000")) {
            ps.setLong(1, from);
            List<AuditRecord> out = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
              while (rs.next()) out.add(read(rs));
            }
            return out;
          }
        });
        page.forEach(sink);
        if (page.size() < 1000) return;
        next = page.getLast().seq() + 1;
      }
    }

    private AuditRecord read(ResultSet rs) throws SQLException {
      return new AuditRecord(rs.getLong("seq"), rs.getLong("at"), rs.getString("event"), rs.getString("subject"),
          rs.getString("detail"), rs.getString("prev_hash"), rs.getString("hash"));
    }
  }

  private final class JdbcSigningKeys implements SigningKeys {
    @Override
    public void insert(SigningKeyRecord k) {
      sql(c -> {
        try (PreparedStatement ps = c.prepareStatement(
            "INSERT INTO signing_keys(kid, public_jwk, private_key, created_at, retired_at, publish_until) VALUES (?,?,?,?,?,?)")) {
          ps.setString(1, k.kid());
          ps.setString(2, k.publicJwk());
          ps.setString(3, k.encryptedPrivateKey());
          ps.setLong(4, k.createdAt());
          setNullableLong(ps, 5, k.retiredAt());
          setNullableLong(ps, 6, k.publishUntil());
          return ps.executeUpdate();
        }
      });
    }

    @Override
    public List<SigningKeyRecord> all() {
      return sql(c -> {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT * FROM signing_keys ORDER BY created_at, kid")) {
          List<SigningKeyRecord> out = new ArrayList<>();
          while (rs.next()) {
            out.add(new SigningKeyRecord(rs.getString("kid"), rs.getString("public_jwk"), rs.getString("private_key"),
                rs.getLong("created_at"), nullableLong(rs, "retired_at"), nullableLong(rs, "publish_until")));
          }
          return out;
        }
      });
    }

    @Override
    public void retire(String kid, long retiredAt, long publishUntil) {
      sql(c -> {
        try (PreparedStatement ps = c.prepareStatement("UPDATE signing_keys SET retired_at = ?, publish_until = ? WHERE kid = ?")) {
          ps.setLong(1, retiredAt);
          ps.setLong(2, publishUntil);
          ps.setString(3, kid);
          return ps.executeUpdate();
        }
      });
    }

    @Override
    public void delete(String kid) {
      sql(c -> {
        try (PreparedStatement ps = c.prepareStatement("DELETE FROM signing_keys WHERE kid = ?")) {
          ps.setString(1, kid);
          return ps.executeUpdate();
        }
      });
    }
  }

  private final class JdbcFactorStates implements FactorStates {
    @Override
    public Optional<String> get(String machineName, String factor) {
      return sql(c -> {
        try (PreparedStatement ps = c.prepareStatement("SELECT state FROM factor_state WHERE machine_name = ? AND factor = ?")) {
          ps.setString(1, machineName);
          ps.setString(2, factor);
          try (ResultSet rs = ps.executeQuery()) {
            return rs.next() ? Optional.of(rs.getString(1)) : Optional.<String>empty();
          }
        }
      });
    }

    @Override
    public void put(String machineName, String factor, String state, long at) {
      transaction(() -> {
        delete(machineName, factor);
        return sql(c -> {
          try (PreparedStatement ps = c.prepareStatement(
              "INSERT INTO factor_state(machine_name, factor, state, updated_at) VALUES (?,?,?,?)")) {
            ps.setString(1, machineName);
            ps.setString(2, factor);
            ps.setString(3, state);
            ps.setLong(4, at);
            return ps.executeUpdate();
          }
        });
      });
    }

    @Override
    public void deleteAll(String machineName) {
      sql(c -> {
        try (PreparedStatement ps = c.prepareStatement("DELETE FROM factor_state WHERE machine_name = ?")) {
          ps.setString(1, machineName);
          return ps.executeUpdate();
        }
      });
    }

    @Override
    public void delete(String machineName, String factor) {
      sql(c -> {
        try (PreparedStatement ps = c.prepareStatement("DELETE FROM factor_state WHERE machine_name = ? AND factor = ?")) {
          ps.setString(1, machineName);
          ps.setString(2, factor);
          return ps.executeUpdate();
        }
      });
    }
  }

  @Override
  public SshCertificates sshCertificates() {
    return sshCertificates;
  }

  private final class JdbcSshCertificates implements SshCertificates {
    private static final String COLUMNS =
        "c.serial, c.machine_name, c.kind, c.key_id, c.key_fingerprint, c.valid_after, c.valid_before, c.issued_at, c.revocation_seq";

    @Override
    public boolean exists(long serial) {
      return sql(c -> {
        try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM ssh_certificates WHERE serial = ?")) {
          ps.setLong(1, serial);
          try (ResultSet rs = ps.executeQuery()) {
            return rs.next();
          }
        }
      });
    }

    @Override
    public void insert(SshCertificateRecord r) {
      sql(c -> {
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO ssh_certificates(serial, machine_name, kind, key_id, "
            + "key_fingerprint, valid_after, valid_before, issued_at, revocation_seq) VALUES (?,?,?,?,?,?,?,?,?)")) {
          ps.setLong(1, r.serial());
          ps.setString(2, r.machineName());
          ps.setString(3, r.kind());
          ps.setString(4, r.keyId());
          ps.setString(5, r.keyFingerprint());
          ps.setLong(6, r.validAfter());
          ps.setLong(7, r.validBefore());
          ps.setLong(8, r.issuedAt());
          ps.setLong(9, r.revocationSeq());
          return ps.executeUpdate();
        }
      });
    }

    @Override
    public List<SshCertificateRecord> revokedUnexpired(long now) {
      return sql(c -> {
        try (PreparedStatement ps = c.prepareStatement("SELECT " + COLUMNS + " FROM ssh_certificates c "
            + "JOIN machines m ON m.name = c.machine_name WHERE c.valid_before > ? AND EXISTS ("
            + "SELECT 1 FROM revocations r WHERE r.subject = m.spiffe_id AND r.kind = 'revoke' AND r.seq > c.revocation_seq) "
            + "ORDER BY c.serial")) {
          ps.setLong(1, now);
          return readSsh(ps);
        }
      });
    }

    @Override
    public List<SshCertificateRecord> forMachine(String machineName, int limit) {
      return sql(c -> {
        try (PreparedStatement ps = c.prepareStatement(
            "SELECT " + COLUMNS + " FROM ssh_certificates c WHERE c.machine_name = ? ORDER BY c.issued_at LIMIT ?")) {
          ps.setString(1, machineName);
          ps.setInt(2, limit);
          return readSsh(ps);
        }
      });
    }

    private List<SshCertificateRecord> readSsh(PreparedStatement ps) throws SQLException {
      List<SshCertificateRecord> out = new java.util.ArrayList<>();
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(new SshCertificateRecord(rs.getLong(1), rs.getString(2), rs.getString(3), rs.getString(4), rs.getString(5),
              rs.getLong(6), rs.getLong(7), rs.getLong(8), rs.getLong(9)));
        }
      }
      return out;
    }
  }
}
