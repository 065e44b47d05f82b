package dev.m2mfa.authority.factor.otpchain;

import java.security.MessageDigest;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Objects;

/**
 * The state machine of the {@code otp-chain} factor: the authority side of a rotating one-time
 * secret that makes a cloned machine diverge from its original. Only hashes of secrets are
 * held; {@link OtpChainFactor} stores the state and runs each transition in one serializable
 * transaction, so a secret is never accepted twice, also across restarts.
 *
 * <p>State per machine: {@code current} (the secret last proven), {@code pending} (the next
 * secret, issued at the last successful login), {@code acknowledged} (the agent confirmed,
 * after its fsync, that it holds {@code pending}), {@code retired} (secrets that must never
 * come back, newest {@link #RETIRED_HISTORY}) and {@code locked}.
 *
 * <p>Presenting secret {@code x} at login, issuing {@code next}:
 * <ul>
 *   <li>locked: {@link Verdict#LOCKED}, nothing changes;
 *   <li>{@code x == pending}: the lineage moves on: current retires, pending becomes current,
 *       {@code next} becomes the unacknowledged pending ({@link Verdict#PASS});
 *   <li>{@code x == current} and pending not acknowledged: the agent crashed between issue and
 *       persist (or a copy holding the same secret got here first; the two look the same).
 *       Passes; the unused pending retires and {@code next} replaces it: if that retired
 *       secret ever shows up, it is a fork ({@link Verdict#PASS});
 *   <li>{@code x == current} and pending acknowledged: the holder of the pending secret exists,
 *       so this is a second lineage: lock ({@link Verdict#CLONE_DETECTED});
 *   <li>{@code x} retired: lock ({@link Verdict#CLONE_DETECTED});
 *   <li>anything else: {@link Verdict#WRONG_SECRET}, nothing changes (the caller rate-limits).
 * </ul>
 * Acknowledging {@code y} ({@link #acknowledge}): {@code y == pending} sets acknowledged;
 * {@code y} retired is a fork and locks; otherwise nothing changes.
 *
 * <p>So a crash anywhere between issue and acknowledgement never locks, and once both parties
 * have logged in after a copy was made, the copy is caught at the first login (or
 * acknowledgement) that presents a secret the other lineage has made obsolete.
 */
public final class OtpChain {
  /** How many retired hashes are kept; an older one reads as a wrong secret, not a clone. */
  public static final int RETIRED_HISTORY = 64;

  /** The outcome of presenting a secret. */
  public enum Verdict { PASS, CLONE_DETECTED, WRONG_SECRET, LOCKED }

  private byte[] current;
  private byte[] pending;
  /** The agent confirmed it persisted {@code pending}: presenting {@code current} again is no crash. */
  private boolean pendingAcknowledged;
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
      pendingAcknowledged = false;
      return Verdict.PASS;
    }
    if (current != null && MessageDigest.isEqual(presented, current)) {
      if (pendingAcknowledged) {
        // the agent confirmed it holds the pending secret, yet the current one came back: a copy
        if (pending != null) retire(pending);
        locked = true;
        return Verdict.CLONE_DETECTED;
      }
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

  /**
   * The agent confirms, after its fsync, that it persisted the pending secret (it presents that
   * secret's hash). From then on the current secret coming back cannot be a crash. A retired
   * secret acknowledged means another party already took the crash path: a fork, locked.
   */
  public Verdict acknowledge(byte[] presented) {
    if (locked) return Verdict.LOCKED;
    if (pending != null && MessageDigest.isEqual(presented, pending)) {
      pendingAcknowledged = true;
      return Verdict.PASS;
    }
    if (current != null && MessageDigest.isEqual(presented, current)) return Verdict.PASS; // already used: nothing to confirm
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
    pendingAcknowledged = false;
    locked = false;
  }

  /** An admin's unlock: the lineages stay as they are; a party holding a retired secret locks it again. */
  public void unlock() {
    locked = false;
  }

  /** The chain as stored (hashes only), for {@link #restore}. */
  public State state() {
    return new State(current == null ? null : B64.encodeToString(current), pending == null ? null : B64.encodeToString(pending),
        retired.stream().map(B64::encodeToString).toList(), locked, pendingAcknowledged);
  }

  /** Rebuilds a chain from {@link #state()}: what an authority restart does. */
  public static OtpChain restore(State s) {
    OtpChain c = new OtpChain(new byte[0]);
    c.pending = s.pending() == null ? null : B64D.decode(s.pending());
    c.current = s.current() == null ? null : B64D.decode(s.current());
    for (String r : s.retired()) c.retired.addLast(B64D.decode(r));
    c.locked = s.locked();
    c.pendingAcknowledged = s.acknowledged();
    return c;
  }

  /** The stored form: base64 SHA-256 hashes, newest retired first. */
  public record State(String current, String pending, List<String> retired, boolean locked, boolean acknowledged) {
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
