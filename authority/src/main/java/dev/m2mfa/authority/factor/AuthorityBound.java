package dev.m2mfa.authority.factor;

import dev.m2mfa.authority.AuthorityConfig;
import dev.m2mfa.authority.audit.AuditLog;
import dev.m2mfa.authority.revocation.RevocationService;
import dev.m2mfa.authority.store.Store;

/**
 * Implemented by a {@link dev.m2mfa.api.factor.FactorVerifier} that lives in the authority and
 * needs its state (a hardware attestation record, a posture baseline). The authority calls
 * {@link #bind} once, after loading verifiers through {@link java.util.ServiceLoader} and
 * before the first login. Third-party factors use only the public SPI and cannot see the store.
 */
public interface AuthorityBound {
  void bind(Services services);

  /** What a bound verifier may use. Per-machine state goes through {@link Store#factorStates()}. */
  record Services(Store store, AuditLog audit, AuthorityConfig config, RevocationService revocations) {
    /** Without a revocation service (factors that never lock or revoke). */
    public Services(Store store, AuditLog audit, AuthorityConfig config) {
      this(store, audit, config, null);
    }
  }
}
