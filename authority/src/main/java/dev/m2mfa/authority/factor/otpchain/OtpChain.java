package dev.m2mfa.authority.factor.otpchain;

import java.security.MessageDigest;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Objects;

/**
 * The state machine of the {@code otp-chain} factor (issue 3), without storage or wiring yet:
 * the authority side of a rotating one-time secret that makes a cloned machine diverge from
 * its original. Only hashes of secrets are held.
 *
 * <p>States per machine: {@code current} (the secret last proven), {@code pending} (the next
 * secret, issued at the last successful login but not yet presented; absent after
 * enrollment's first issue is consumed), {@code retired} (secrets that must never come back:
 * consumed currents and invalidated pendings, the newest {@link #RETIRED_HISTORY}), and
 * {@code locked}.
 *
 * <p>Transitions on presenting secret {@code x}, issuing {@code next}:
 * <ul>
 *   <li>locked: refused ({@link Verdict#LOCKED}), nothing changes;
 *   <li>{@code x == pending}: the lineage moves on; {@code current} retires, {@code pending}
 *       becomes current, {@code next} becomes pending ({@link Verdict#PASS});
 *   <li>{@code x == current}: either the agent crashed before persisting the pending secret, or a
 *       copy that holds the same secret logs in. Both look the same, so it passes, and the unused
 *       pending secret is retired and replaced by {@code next}: whichever party holds the
 *       retired one presents it at its next login and is caught ({@link Verdict#PASS});
 *   <li>{@code x} retired: two lineages exist: lock ({@link Verdict#CLONE_DETECTED});
 *   <li>anything else: {@link Verdict#WRONG_SECRET} (rate-limited by the caller), nothing changes.
 * </ul>
 * A crash between issue and persist therefore never locks, and a clone is detected at the first
 * login that presents a secret the other lineage has made obsolete. The caller runs one
 * transition per serializable transaction, so a secret is never accepted twice.
 */
public final class OtpChain {
  /** How many retired hashes are kept; an older one reads as a wrong secret, not a clone. */
  public static final int RETIRED_HISTORY = 64;

  /** The outcome of presenting a secret. */
  public enum Verdict { PASS, CLONE_DETECTED, WRONG_SECRET, LOCKED }

  private byte[] current;
  private byte[] pending;
  private final Deque<byte[]> retired = new ArrayDeque<>();
  private boolean locked;

  /** A chain whose first secret (issued at enrollment) has hash {@code first}. */
  public OtpChain(byte[] first) {
    this.current = null;
    this.pending = Objects.requireNonNull(first).clone();
  }

  public boolean locked() {
    return locked;
  }

  /** Presents the hash of a secret; {@code next} is the hash of the secret issued if it passes. */
  public Verdict present(byte[] presented, byte[] next) {
    if (locked) return Verdict.LOCKED;
    if (pending != null && MessageDigest.isEqual(presented, pending)) {
      if (current != null) retire(current);
      current = pending;
      pending = next.clone();
      return Verdict.PASS;
    }
    if (current != null && MessageDigest.isEqual(presented, current)) {
      if (pending != null) retire(pending);
      pending = next.clone();
      return Verdict.PASS;
    }
    for (byte[] r : retired) {
      if (MessageDigest.isEqual(presented, r)) {
        locked = true;
        return Verdict.CLONE_DETECTED;
      }
    }
    return Verdict.WRONG_SECRET;
  }

  /** Admin re-enrollment: a fresh chain, unlocked, forgetting nothing it has retired. */
  public void reset(byte[] first) {
    if (current != null) retire(current);
    if (pending != null) retire(pending);
    current = null;
    pending = first.clone();
    locked = false;
  }

  /** An admin's unlock: the lineages stay as they are; a party holding a retired secret locks it again. */
  public void unlock() {
    locked = false;
  }

  /** The chain as stored (hashes only), for {@link #restore}. */
  public State state() {
    return new State(current == null ? null : B64.encodeToString(current), pending == null ? null : B64.encodeToString(pending),
        retired.stream().map(B64::encodeToString).toList(), locked);
  }

  /** Rebuilds a chain from {@link #state()}: what an authority restart does. */
  public static OtpChain restore(State s) {
    OtpChain c = new OtpChain(new byte[0]);
    c.pending = s.pending() == null ? null : B64D.decode(s.pending());
    c.current = s.current() == null ? null : B64D.decode(s.current());
    for (String r : s.retired()) c.retired.addLast(B64D.decode(r));
    c.locked = s.locked();
    return c;
  }

  /** The stored form: base64 SHA-256 hashes, newest retired first. */
  public record State(String current, String pending, List<String> retired, boolean locked) {
    public State {
      retired = retired == null ? List.of() : List.copyOf(retired);
    }
  }

  private static final java.util.Base64.Encoder B64 = java.util.Base64.getEncoder();
  private static final java.util.Base64.Decoder B64D = java.util.Base64.getDecoder();

  List<byte[]> retiredForTest() {
    return List.copyOf(retired);
  }

  private void retire(byte[] hash) {
    retired.addFirst(hash);
    while (retired.size() > RETIRED_HISTORY) retired.removeLast();
  }
}
