package dev.m2mfa.authority.audit;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.m2mfa.authority.store.AuditRecord;
import dev.m2mfa.authority.store.Store;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Append-only, hash-chained audit log with group commit.
 *
 * <p>Each record's hash is SHA-256 over the previous record's hash and this record's fields,
 * so editing, deleting or reordering any record breaks every later link;
 * {@link #verify(Store)} names the first record whose link does not hold. (A chain alone does
 * not stop someone who rewrites the whole tail with write access to the database; exporting
 * the latest hash elsewhere does. See docs/THREAT-MODEL.md.)
 *
 * <p>Writers call {@link #append} and wait on the returned future: one writer thread drains
 * the queue and commits everything waiting in one transaction, so many concurrent logins
 * share one fsync. A decision is not acted on before its record is durable.
 */
public final class AuditLog implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String GENESIS = "0".repeat(64);

  private final Store store;
  private final LinkedBlockingQueue<Pending> queue = new LinkedBlockingQueue<>(100_000);
  private final Thread writer;
  private volatile boolean closed;
  private long nextSeq;
  private String lastHash;

  private record Pending(long at, String event, String subject, String detail, CompletableFuture<Void> done) {}

  public AuditLog(Store store) {
    this.store = store;
    var last = store.audit().last();
    this.nextSeq = last.map(r -> r.seq() + 1).orElse(1L);
    this.lastHash = last.map(AuditRecord::hash).orElse(GENESIS);
    this.writer = Thread.ofPlatform().daemon().name("audit-writer").start(this::drain);
  }

  /** Queues a record; the future completes when it is durable. */
  public CompletableFuture<Void> append(String event, String subject, Map<String, ?> detail) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    if (closed) {
      done.completeExceptionally(new IllegalStateException("audit log closed"));
      return done;
    }
    String json;
    try {
      json = JSON.writeValueAsString(detail);
    } catch (Exception e) {
      done.completeExceptionally(e);
      return done;
    }
    if (!queue.offer(new Pending(System.currentTimeMillis(), event, subject == null ? "" : subject, json, done))) {
      done.completeExceptionally(new IllegalStateException("audit queue full"));
    }
    return done;
  }

  /** Appends and waits until durable. */
  public void appendAndWait(String event, String subject, Map<String, ?> detail) {
    append(event, subject, detail).join();
  }

  private void drain() {
    List<Pending> batch = new ArrayList<>();
    while (!closed || !queue.isEmpty()) {
      try {
        Pending first = queue.poll(100, TimeUnit.MILLISECONDS);
        if (first == null) continue;
        batch.add(first);
        queue.drainTo(batch, 511);
        List<AuditRecord> records = new ArrayList<>(batch.size());
        long seq = nextSeq;
        String prev = lastHash;
        for (Pending p : batch) {
          String hash = hash(prev, seq, p.at, p.event, p.subject, p.detail);
          records.add(new AuditRecord(seq, p.at, p.event, p.subject, p.detail, prev, hash));
          prev = hash;
          seq++;
        }
        try {
          store.transaction(() -> {
            store.audit().appendAll(records);
            return null;
          });
          nextSeq = seq;
          lastHash = prev;
          batch.forEach(p -> p.done.complete(null));
        } catch (RuntimeException e) {
          batch.forEach(p -> p.done.completeExceptionally(e));
        }
        batch.clear();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  static String hash(String prev, long seq, long at, String event, String subject, String detail) {
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      String canonical = prev + "\n" + seq + "\n" + at + "\n" + event + "\n" + subject + "\n" + detail;
      return HexFormat.of().formatHex(md.digest(canonical.getBytes(StandardCharsets.UTF_8)));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The result of checking the chain: {@code firstBroken} is null when every link holds. */
  public record Verification(boolean ok, long records, Long firstBroken) {}

  /** Walks the whole chain and names the first record whose link or hash does not hold. */
  public static Verification verify(Store store) {
    long[] count = {0};
    Long[] broken = {null};
    String[] prev = {GENESIS};
    long[] expectedSeq = {1};
    store.audit().scan(1, r -> {
      count[0]++;
      if (broken[0] != null) return;
      boolean linkOk = r.seq() == expectedSeq[0] && r.prevHash().equals(prev[0]);
      boolean hashOk = hash(r.prevHash(), r.seq(), r.at(), r.event(), r.subject(), r.detail()).equals(r.hash());
      if (!linkOk || !hashOk) broken[0] = r.seq();
      prev[0] = r.hash();
      expectedSeq[0] = r.seq() + 1;
    });
    return new Verification(broken[0] == null, count[0], broken[0]);
  }

  @Override
  public void close() {
    closed = true;
    try {
      writer.join(5_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
