package dev.m2mfa.authority.revocation;

import dev.m2mfa.authority.store.RevocationRecord;
import dev.m2mfa.authority.store.Store;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The revocation event stream. An event is appended to the store (durable) before it is
 * visible here, and visible here before the admin call returns; every subscriber blocked in
 * {@link #awaitAfter} wakes at once, so propagation is one write per subscriber.
 */
public final class RevocationHub {
  private final Store store;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();
  private final List<RevocationRecord> events = new ArrayList<>();
  private final Map<String, RevocationRecord> revoked = new LinkedHashMap<>();
  /** Recent reinstatements: tokens issued before them stay refused (a token lives at most 5 min). */
  private final Map<String, RevocationRecord> reinstated = new LinkedHashMap<>();
  private static final long REINSTATE_MEMORY_MILLIS = 15 * 60_000;
  private long keysVersion;

  public RevocationHub(Store store) {
    this.store = store;
    long seq = 0;
    while (true) {
      List<RevocationRecord> page = store.revocations().after(seq, 10_000);
      page.forEach(this::apply);
      if (page.size() < 10_000) break;
      seq = page.getLast().seq();
    }
  }

  /** Makes {@code event} visible to subscribers; the caller has already stored it durably. */
  public void publish(RevocationRecord event) {
    lock.lock();
    try {
      apply(event);
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  private void apply(RevocationRecord e) {
    events.add(e);
    if ("revoke".equals(e.kind())) {
      revoked.put(e.subject(), e);
      reinstated.remove(e.subject());
    } else {
      revoked.remove(e.subject());
      reinstated.put(e.subject(), e);
    }
  }

  /**
   * @param reinstated subjects reinstated in the last 15 minutes, with the time: a verifier
   *     refuses their tokens issued before that time (revocation is final for tokens issued
   *     before it; a re-enrolled machine's old tokens never come back)
   */
  public record Snapshot(long seq, List<RevocationRecord> revoked, List<RevocationRecord> reinstated) {}

  public Snapshot snapshot() {
    lock.lock();
    try {
      long horizon = System.currentTimeMillis() - REINSTATE_MEMORY_MILLIS;
      reinstated.values().removeIf(r -> r.at() < horizon);
      return new Snapshot(latestSeqLocked(), List.copyOf(revoked.values()), List.copyOf(reinstated.values()));
    } finally {
      lock.unlock();
    }
  }

  public long latestSeq() {
    lock.lock();
    try {
      return latestSeqLocked();
    } finally {
      lock.unlock();
    }
  }

  private long latestSeqLocked() {
    return events.isEmpty() ? 0 : events.getLast().seq();
  }

  /** Announces new signing keys to every subscriber (verifiers refetch the JWKS at once). */
  public void keysChanged() {
    lock.lock();
    try {
      keysVersion++;
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  public long keysVersion() {
    lock.lock();
    try {
      return keysVersion;
    } finally {
      lock.unlock();
    }
  }

  /** Events with seq greater than {@code after}, waiting up to {@code timeoutMillis} for one. */
  public List<RevocationRecord> awaitAfter(long after, long timeoutMillis) throws InterruptedException {
    return awaitAfter(after, Long.MIN_VALUE, timeoutMillis);
  }

  /**
   * Events with seq greater than {@code after}, waiting up to {@code timeoutMillis} for one;
   * returns early (possibly empty) when {@link #keysVersion()} moves past {@code knownKeysVersion}.
   */
  public List<RevocationRecord> awaitAfter(long after, long knownKeysVersion, long timeoutMillis) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
    lock.lock();
    try {
      while (latestSeqLocked() <= after && (knownKeysVersion == Long.MIN_VALUE || keysVersion == knownKeysVersion)) {
        long left = deadline - System.nanoTime();
        if (left <= 0) return List.of();
        changed.awaitNanos(left);
      }
      List<RevocationRecord> out = new ArrayList<>();
      for (int i = events.size() - 1; i >= 0 && events.get(i).seq() > after; i--) out.addFirst(events.get(i));
      return out;
    } finally {
      lock.unlock();
    }
  }
}
