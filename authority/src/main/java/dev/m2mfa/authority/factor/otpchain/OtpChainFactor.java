package dev.m2mfa.authority.factor.otpchain;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.m2mfa.api.factor.EnrolledMachine;
import dev.m2mfa.api.factor.FactorOutcome;
import dev.m2mfa.api.factor.FactorVerifier;
import dev.m2mfa.api.factor.VerificationContext;
import dev.m2mfa.api.otp.OtpEnvelope;
import dev.m2mfa.authority.factor.AuthorityBound;
import dev.m2mfa.authority.factor.TransactionalFactor;
import dev.m2mfa.authority.factor.otpchain.OtpChain.Verdict;
import dev.m2mfa.authority.revocation.RevocationService;
import dev.m2mfa.authority.store.MachineRecord;
import dev.m2mfa.authority.store.RevocationRecord;
import dev.m2mfa.authority.store.Store;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The {@code otp-chain} factor: a rotating one-time secret that makes a copied machine diverge
 * from its original (state machine in {@link OtpChain}, every transition in
 * docs/factors/otp-chain.md).
 *
 * <p>Each successful login consumes the secret the agent presents and hands out the next one,
 * sealed to the agent's chain key ({@link OtpEnvelope}); the store keeps only SHA-256 hashes.
 * The judgement runs inside the login's transaction ({@link TransactionalFactor}): the chain
 * advances only when every other factor passed, and it is never judged at all unless the
 * login signature (the key factor) verified, so nobody without the machine's key can move or
 * lock a chain. Presenting a retired secret locks the identity and revokes it in the same
 * transaction; the push, the audit record naming both sources, and the alert follow the
 * commit. Wrong secrets are counted per machine and per source ({@link WrongSecretLimiter}).
 */
public final class OtpChainFactor implements FactorVerifier, AuthorityBound, TransactionalFactor {
  public static final String NAME = "otp-chain";
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final SecureRandom RANDOM = new SecureRandom();

  private final WrongSecretLimiter limiter = new WrongSecretLimiter();
  private Store store;
  private RevocationService revocations;
  private dev.m2mfa.authority.audit.AuditLog audit;
  private CloneAlert alert = new CloneAlert(null);

  /** The stored record: the chain (hashes), the agent's chain key, and who last advanced it. */
  record Stored(OtpChain.State chain, String recipient, String lastSource, long lastAt) {}

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public void bind(Services services) {
    this.store = services.store();
    this.revocations = services.revocations();
    this.audit = services.audit();
    this.alert = new CloneAlert(CloneAlert.parseWebhook(services.config().option("otp_chain.alert_webhook").orElse(null)));
  }

  @Override
  public Map<String, Object> challenge(EnrolledMachine machine) {
    return Map.of("v", 1);
  }

  /**
   * Outside a login (contract tests, third-party hosts): judges and commits on its own. A
   * login never comes here; it calls {@link #judge} inside its transaction.
   */
  @Override
  public FactorOutcome verify(VerificationContext context, Map<String, Object> untrustedEvidence) {
    if (store == null) return FactorOutcome.fail("otp-chain is not bound to an authority store");
    MachineRecord m = store.machines().find(context.machine().name()).orElse(null);
    if (m == null) return FactorOutcome.fail("machine unknown");
    Judgement j = store.transaction(() -> judge(context, m, untrustedEvidence, Mode.ADVANCE));
    j.afterCommit().run();
    return j.outcome();
  }

  /** Creates a machine's chain at enrollment (inside the enrollment transaction); returns the first secret, sealed. */
  public static OtpEnvelope.Sealed enroll(Store store, String machineName, byte[] chainPublicKey, long now) {
    if (!OtpEnvelope.validPublicKey(chainPublicKey)) throw new IllegalArgumentException("otp_chain_key must be an uncompressed P-256 point");
    byte[] first = newSecret();
    try {
      OtpChain chain = new OtpChain(hash(first));
      save(store, machineName, new Stored(chain.state(), Base64.getEncoder().encodeToString(chainPublicKey), null, now), now);
      return OtpEnvelope.seal(chainPublicKey, machineName, first);
    } finally {
      Arrays.fill(first, (byte) 0);
    }
  }

  /** Admin unlock, inside the caller's transaction: the chain's lineages stay; a retired secret locks it again. */
  public static boolean unlock(Store store, String machineName, long now) {
    Stored s = load(store, machineName);
    if (s == null) return false;
    OtpChain c = OtpChain.restore(s.chain());
    c.unlock();
    save(store, machineName, new Stored(c.state(), s.recipient(), s.lastSource(), s.lastAt()), now);
    return true;
  }

  @Override
  public Judgement judge(VerificationContext ctx, MachineRecord machine, Map<String, Object> evidence, Mode mode) {
    String source = ctx.sourceAddress() == null ? "unknown" : ctx.sourceAddress().getHostAddress();
    long now = System.currentTimeMillis();
    byte[] presented = secretOf(evidence);
    if (presented == null) return Judgement.of(FactorOutcome.absent("no one-time secret presented"));
    Stored stored = load(store, machine.name());
    if (stored == null) return Judgement.of(FactorOutcome.fail("no otp chain enrolled for this machine"));
    if (limiter.blocked(machine.name(), source, now)) return Judgement.of(FactorOutcome.fail("too many wrong one-time secrets: rate limited"));
    OtpChain chain = OtpChain.restore(stored.chain());
    byte[] next = newSecret();
    try {
      Verdict v = chain.present(hash(presented), hash(next));
      return switch (v) {
        case LOCKED -> Judgement.of(FactorOutcome.fail("identity locked after a detected clone; an admin must unlock or re-enroll it"));
        case WRONG_SECRET -> {
          limiter.wrong(machine.name(), source, now);
          yield Judgement.of(FactorOutcome.fail("one-time secret unknown to this chain"));
        }
        case PASS -> {
          if (mode != Mode.ADVANCE) yield Judgement.of(FactorOutcome.pass("one-time secret accepted (chain not advanced: another factor failed)"));
          save(store, machine.name(), new Stored(chain.state(), stored.recipient(), source, now), now);
          OtpEnvelope.Sealed sealed = OtpEnvelope.seal(Base64.getDecoder().decode(stored.recipient()), machine.name(), next);
          yield new Judgement(FactorOutcome.pass("one-time secret accepted; next issued"),
              Map.of("otp_next", Map.of("enc", sealed.enc(), "ciphertext", sealed.ciphertext())), () -> {});
        }
        case CLONE_DETECTED -> cloneDetected(machine, chain, stored, source, now);
      };
    } finally {
      Arrays.fill(next, (byte) 0);
      Arrays.fill(presented, (byte) 0);
    }
  }

  /** Locks and revokes inside the caller's transaction; the push, audit and alert run after the commit. */
  private Judgement cloneDetected(MachineRecord machine, OtpChain chain, Stored stored, String source, long now) {
    save(store, machine.name(), new Stored(chain.state(), stored.recipient(), stored.lastSource(), stored.lastAt()), now);
    String reason = "otp-chain: clone detected (a one-time secret of another lineage came back)";
    RevocationRecord event = revocations.lockWithinTransaction(machine, reason, now);
    Map<String, Object> detail = new LinkedHashMap<>();
    detail.put("machine", machine.name());
    detail.put("this_source", source);
    detail.put("this_at", now);
    detail.put("other_source", stored.lastSource());
    detail.put("other_at", stored.lastAt());
    detail.put("revocation_seq", event.seq());
    return new Judgement(FactorOutcome.fail("clone detected: a one-time secret of another lineage was presented; identity locked and revoked"),
        Map.of(), () -> {
          revocations.announce(event, machine.name(), reason, "otp-chain");
          audit.appendAndWait("otp_chain.clone_detected", machine.name(), detail);
          alert.cloneDetected(detail);
        });
  }

  /**
   * The agent's confirmation, after its fsync, that it holds the secret issued at its last
   * login ({@link OtpChain#acknowledge}). Runs its own transaction; a retired secret here is a
   * fork and locks the identity. Returns the outcome (audited by the caller).
   */
  public FactorOutcome acknowledge(String untrustedMachine, Map<String, Object> untrustedEvidence, java.net.InetAddress sourceAddress) {
    String source = sourceAddress == null ? "unknown" : sourceAddress.getHostAddress();
    long now = System.currentTimeMillis();
    if (!dev.m2mfa.api.MachineName.isValid(untrustedMachine)) return FactorOutcome.fail("malformed machine name");
    byte[] presented = secretOf(untrustedEvidence);
    if (presented == null) return FactorOutcome.fail("no one-time secret presented");
    if (limiter.blocked(untrustedMachine, source, now)) return FactorOutcome.fail("too many wrong one-time secrets: rate limited");
    try {
      Judgement j = store.transaction(() -> {
        MachineRecord m = store.machines().find(untrustedMachine).orElse(null);
        Stored stored = m == null ? null : load(store, m.name());
        if (m == null || !m.active() || stored == null) return Judgement.of(FactorOutcome.fail("unknown, inactive or chain-less machine"));
        OtpChain chain = OtpChain.restore(stored.chain());
        return switch (chain.acknowledge(hash(presented))) {
          case PASS -> {
            save(store, m.name(), new Stored(chain.state(), stored.recipient(), stored.lastSource(), stored.lastAt()), now);
            yield Judgement.of(FactorOutcome.pass("next secret acknowledged"));
          }
          case CLONE_DETECTED -> cloneDetected(m, chain, stored, source, now);
          case LOCKED -> Judgement.of(FactorOutcome.fail("identity locked after a detected clone"));
          case WRONG_SECRET -> Judgement.of(FactorOutcome.fail("one-time secret unknown to this chain"));
        };
      });
      j.afterCommit().run();
      if (j.outcome().status() != dev.m2mfa.api.factor.FactorStatus.PASS && j.outcome().reason().startsWith("one-time secret unknown")) {
        limiter.wrong(untrustedMachine, source, now);
      }
      return j.outcome();
    } finally {
      Arrays.fill(presented, (byte) 0);
    }
  }

  private static byte[] secretOf(Map<String, Object> evidence) {
    if (!(evidence.get("secret") instanceof String s) || s.length() != 43) return null;
    try {
      byte[] b = Base64.getUrlDecoder().decode(s);
      return b.length == OtpEnvelope.SECRET_BYTES ? b : null;
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  static byte[] newSecret() {
    byte[] b = new byte[OtpEnvelope.SECRET_BYTES];
    RANDOM.nextBytes(b);
    return b;
  }

  /** Domain-separated SHA-256 of a secret: what the store keeps. */
  static byte[] hash(byte[] secret) {
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      md.update("m2mfa-otp-chain-v1".getBytes(StandardCharsets.US_ASCII));
      return md.digest(secret);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static Stored load(Store store, String machine) {
    return store.factorStates().get(machine, NAME).map(json -> {
      try {
        return JSON.readValue(json, Stored.class);
      } catch (Exception e) {
        throw new IllegalStateException("stored otp chain of " + machine + " is unreadable");
      }
    }).orElse(null);
  }

  private static void save(Store store, String machine, Stored s, long now) {
    try {
      store.factorStates().put(machine, NAME, JSON.writeValueAsString(s), now);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }
}
