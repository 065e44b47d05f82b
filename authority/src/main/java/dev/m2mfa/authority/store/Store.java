package dev.m2mfa.authority.store;

import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The authority's persistent state, grouped by record kind. Every backend (SQLite now,
 * PostgreSQL later) passes {@code StoreContract} in the tests.
 *
 * <p>Durability: a method returns only after its change is committed (SQLite: WAL with
 * synchronous=FULL). {@link #transaction} runs several changes atomically.
 */
public interface Store extends AutoCloseable {
  Machines machines();

  JoinTokens joinTokens();

  Revocations revocations();

  AuditRecords audit();

  SigningKeys signingKeys();

  FactorStates factorStates();

  /** Runs {@code work} in one serializable transaction; nested calls join the outer one. */
  <T> T transaction(Supplier<T> work);

  @Override
  void close();

  interface Machines {
    /** Inserts a new machine; fails with {@link DuplicateException} if the name exists. */
    void insert(MachineRecord machine);

    Optional<MachineRecord> find(String name);

    /** Machines ordered by name, after {@code afterName} (exclusive, null for the first page). */
    List<MachineRecord> list(String afterName, int limit);

    boolean setStatus(String name, String status, long at);

    /** Re-enrollment: a new key and networks for an existing name, status back to active. */
    boolean replaceKey(String name, String publicKey, String keyThumbprint, String networks, long at);

    long count();
  }

  interface JoinTokens {
    void insert(JoinTokenRecord token);

    /**
     * Atomically marks the token used and returns it, if it exists, is unused and unexpired
     * at {@code now}; otherwise returns empty and changes nothing.
     */
    Optional<JoinTokenRecord> consume(String tokenHash, long now);
  }

  interface Revocations {
    /** Appends an event with the next sequence number; durable on return. */
    RevocationRecord append(String kind, String subject, String reason, long at);

    List<RevocationRecord> after(long seq, int limit);

    long latestSeq();
  }

  interface AuditRecords {
    void appendAll(List<AuditRecord> records);

    Optional<AuditRecord> last();

    /** Streams records in sequence order from {@code fromSeq} (inclusive). */
    void scan(long fromSeq, Consumer<AuditRecord> sink);
  }

  interface SigningKeys {
    void insert(SigningKeyRecord key);

    List<SigningKeyRecord> all();

    void retire(String kid, long retiredAt, long publishUntil);

    void delete(String kid);
  }

  /**
   * State a factor verifier keeps per machine, as the factor's own JSON text. Read and write it
   * inside {@link #transaction} when a decision depends on it (otp-chain does).
   */
  interface FactorStates {
    Optional<String> get(String machineName, String factor);

    /** Inserts or replaces. */
    void put(String machineName, String factor, String state, long at);

    void delete(String machineName, String factor);

    /** Forgets every factor's state for a machine (re-enrollment with a new key). */
    void deleteAll(String machineName);
  }

  SshCertificates sshCertificates();

  /** Issued OpenSSH certificates, for the KRL (revocation follows the machine). */
  interface SshCertificates {
    boolean exists(long serial);

    /** Inserts; fails with {@link DuplicateException} if the serial was ever used. */
    void insert(SshCertificateRecord certificate);

    /**
     * Certificates still valid at {@code now} whose machine has a revoke event with a sequence
     * number above the one recorded at issuance (so reinstating a machine never revives them).
     */
    List<SshCertificateRecord> revokedUnexpired(long now);

    List<SshCertificateRecord> forMachine(String machineName, int limit);
  }

  /** A unique key already exists. */
  final class DuplicateException extends RuntimeException {
    public DuplicateException(String what) {
      super(what + " already exists");
    }
  }
}
