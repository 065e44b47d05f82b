package dev.m2mfa.agent.posture;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The incremental cache of file hashes: a file whose device, inode, size, mtime and ctime are
 * all unchanged since it was hashed is not read again. ctime is the one an attacker cannot set
 * back from user space (touch -d restores mtime, not ctime), so a content change with the
 * mtime put back is still seen. A file whose mtime or ctime is within two seconds of the scan
 * start is hashed but not cached (a write in the same clock tick would otherwise hide).
 *
 * <p>The attributes come from the {@code unix} attribute view ({@code Files.readAttributes(p,
 * "unix:dev,ino,size,lastModifiedTime,ctime")}: the five fields of {@code unix:*} that the key
 * needs, without building the whole map). The cache lives in the agent's state directory and
 * is written atomically; a damaged or foreign file is ignored (a full rescan follows). It is
 * only as trustworthy as the agent: see docs/factors/posture.md.
 */
public final class HashCache {
  private static final int MAGIC = 0x4d32_4843; // "M2HC"
  private static final int VERSION = 1;
  private static final int MAX_ENTRIES = 4_000_000;
  private static final long RACY_NANOS = TimeUnit.SECONDS.toNanos(2);

  /** The file identity a cached hash is valid for. */
  record Stat(long dev, long ino, long size, long mtimeNanos, long ctimeNanos) {
    static Stat of(Path p) throws IOException {
      return of(p, LinkOption.NOFOLLOW_LINKS);
    }

    /** Follows the link: for {@code /proc/PID/exe}, the running image's own inode. */
    static Stat ofTarget(Path p) throws IOException {
      return of(p, new LinkOption[0]);
    }

    private static Stat of(Path p, LinkOption... options) throws IOException {
      Map<String, Object> a = Files.readAttributes(p, "unix:dev,ino,size,lastModifiedTime,ctime", options);
      return new Stat((Long) a.get("dev"), (Long) a.get("ino"), (Long) a.get("size"),
          ((FileTime) a.get("lastModifiedTime")).to(TimeUnit.NANOSECONDS), ((FileTime) a.get("ctime")).to(TimeUnit.NANOSECONDS));
    }
  }

  private record Entry(Stat stat, byte[] sha256) {}

  private final ConcurrentHashMap<String, Entry> entries = new ConcurrentHashMap<>();
  private volatile long lastFullScanMillis;

  /** The cached hash if {@code stat} matches, else null. */
  byte[] lookup(String path, Stat stat) {
    Entry e = entries.get(path);
    return e != null && e.stat.equals(stat) ? e.sha256 : null;
  }

  void store(String path, Stat stat, byte[] sha256, long scanStartNanosEpoch) {
    if (stat.mtimeNanos() >= scanStartNanosEpoch - RACY_NANOS || stat.ctimeNanos() >= scanStartNanosEpoch - RACY_NANOS) {
      entries.remove(path);
      return;
    }
    entries.put(path, new Entry(stat, sha256));
  }

  /** Drops entries for paths not seen in the last scan. */
  void retainOnly(java.util.Set<String> seen) {
    entries.keySet().retainAll(seen);
  }

  public int size() {
    return entries.size();
  }

  public long lastFullScanMillis() {
    return lastFullScanMillis;
  }

  void fullScanDone(long atMillis) {
    lastFullScanMillis = atMillis;
  }

  /** Loads {@code file}; an absent, damaged or foreign file gives an empty cache. */
  public static HashCache load(Path file) {
    HashCache c = new HashCache();
    try (DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(file), 1 << 16))) {
      if (in.readInt() != MAGIC || in.readInt() != VERSION) return c;
      long full = in.readLong();
      int n = in.readInt();
      if (n < 0 || n > MAX_ENTRIES) return new HashCache();
      for (int i = 0; i < n; i++) {
        String path = in.readUTF();
        Stat s = new Stat(in.readLong(), in.readLong(), in.readLong(), in.readLong(), in.readLong());
        byte[] h = new byte[32];
        in.readFully(h);
        c.entries.put(path, new Entry(s, h));
      }
      c.lastFullScanMillis = full;
      return c;
    } catch (NoSuchFileException e) {
      return c;
    } catch (IOException | RuntimeException e) {
      return new HashCache();
    }
  }

  public void save(Path file) throws IOException {
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    try (DataOutputStream out = new DataOutputStream(new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 16))) {
      out.writeInt(MAGIC);
      out.writeInt(VERSION);
      out.writeLong(lastFullScanMillis);
      var snapshot = Map.copyOf(entries);
      out.writeInt(snapshot.size());
      for (var e : snapshot.entrySet()) {
        out.writeUTF(e.getKey());
        Stat s = e.getValue().stat;
        out.writeLong(s.dev());
        out.writeLong(s.ino());
        out.writeLong(s.size());
        out.writeLong(s.mtimeNanos());
        out.writeLong(s.ctimeNanos());
        out.write(e.getValue().sha256);
      }
    }
    try {
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
    }
  }
}
