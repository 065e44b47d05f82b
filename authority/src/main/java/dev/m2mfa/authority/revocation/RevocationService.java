package dev.m2mfa.authority.revocation;

import dev.m2mfa.authority.audit.AuditLog;
import dev.m2mfa.authority.store.MachineRecord;
import dev.m2mfa.authority.store.RevocationRecord;
import dev.m2mfa.authority.store.Store;
import java.util.Map;
import java.util.Optional;

/**
 * Revoking a machine is one call: its status changes and a revocation event is appended in
 * one transaction (durable before this returns), then the event is pushed to every
 * subscribed verifier. New logins are refused from the same moment.
 */
public final class RevocationService {
  private final Store store;
  private final RevocationHub hub;
  private final AuditLog audit;

  public RevocationService(Store store, RevocationHub hub, AuditLog audit) {
    this.store = store;
    this.hub = hub;
    this.audit = audit;
  }

  /** Returns the event, or empty if no such machine. */
  public Optional<RevocationRecord> revoke(String name, String reason, String admin) {
    return change(name, reason, admin, MachineRecord.REVOKED, "revoke");
  }

  /** Reinstates a revoked machine; a locked one (clone detected) needs {@link #unlock} or re-enrollment. */
  public Optional<RevocationRecord> reinstate(String name, String reason, String admin) {
    Optional<MachineRecord> m = store.machines().find(name);
    if (m.isPresent() && MachineRecord.LOCKED.equals(m.get().status())) throw new Locked();
    return change(name, reason, admin, MachineRecord.ACTIVE, "reinstate");
  }

  /**
   * An admin's unlock of a machine locked by the otp-chain: the machine is active again and its
   * chain unlocked in one transaction, then the reinstate is pushed. Whoever still holds a
   * retired secret locks it again at its next login, so unlocking without removing the copy
   * is visible at once. Empty if the machine does not exist; {@link NotLocked} if it is not locked.
   */
  public Optional<RevocationRecord> unlock(String name, String reason, String admin) {
    long now = System.currentTimeMillis();
    String why = reason == null ? "" : reason;
    RevocationRecord event = store.transaction(() -> {
      Optional<MachineRecord> m = store.machines().find(name);
      if (m.isEmpty()) return null;
      if (!MachineRecord.LOCKED.equals(m.get().status())) throw new NotLocked();
      dev.m2mfa.authority.factor.otpchain.OtpChainFactor.unlock(store, name, now);
      store.machines().setStatus(name, MachineRecord.ACTIVE, now);
      return store.revocations().append("reinstate", m.get().spiffeId(), why, now);
    });
    if (event == null) return Optional.empty();
    hub.publish(event);
    audit.appendAndWait("machine.unlock", name, Map.of("seq", event.seq(), "reason", why, "admin", admin));
    return Optional.of(event);
  }

  /** The machine is not locked. */
  public static final class NotLocked extends RuntimeException {
    public NotLocked() {
      super("machine is not locked");
    }
  }

  /** The machine is locked: reinstating it would bypass the clone lock. */
  public static final class Locked extends RuntimeException {
    public Locked() {
      super("machine is locked after a detected clone; unlock or re-enroll it");
    }
  }

  /**
   * Inside the caller's store transaction: marks the machine locked (only an admin brings it
   * back) and appends a revoke event, so the lock and the revocation commit together. Call
   * {@link #announce} after the commit; never before (the push must follow durability).
   */
  public RevocationRecord lockWithinTransaction(MachineRecord machine, String reason, long now) {
    store.machines().setStatus(machine.name(), MachineRecord.LOCKED, now);
    return store.revocations().append("revoke", machine.spiffeId(), reason, now);
  }

  /** Pushes a committed event to subscribers and audits it. */
  public void announce(RevocationRecord event, String machineName, String reason, String actor) {
    hub.publish(event);
    audit.appendAndWait("machine." + event.kind(), machineName, Map.of("seq", event.seq(), "reason", reason, "admin", actor));
  }

  private Optional<RevocationRecord> change(String name, String reason, String admin, String status, String kind) {
    long now = System.currentTimeMillis();
    String why = reason == null ? "" : reason;
    RevocationRecord event = store.transaction(() -> {
      Optional<MachineRecord> m = store.machines().find(name);
      if (m.isEmpty()) return null;
      store.machines().setStatus(name, status, now);
      return store.revocations().append(kind, m.get().spiffeId(), why, now);
    });
    if (event == null) return Optional.empty();
    hub.publish(event);
    audit.appendAndWait("machine." + kind, name, Map.of("seq", event.seq(), "reason", why, "admin", admin));
    return Optional.of(event);
  }
}
