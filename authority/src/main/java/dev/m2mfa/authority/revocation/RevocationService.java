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

  public Optional<RevocationRecord> reinstate(String name, String reason, String admin) {
    return change(name, reason, admin, MachineRecord.ACTIVE, "reinstate");
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
