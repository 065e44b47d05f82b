package dev.m2mfa.agent.posture;

import dev.m2mfa.api.posture.Measurement;
import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * File measurements over configured roots (Tripwire-style): every regular file under a root
 * whose absolute path matches the globs gets its SHA-256; a symlink gets {@code link:TARGET}
 * (a binary swapped for a link to /tmp is a change too); a file that cannot be read gets
 * {@code unreadable}.
 *
 * <p>Design: one thread walks the roots (no symlinks followed, no other file systems
 * skipped), then {@code threads} workers (default: the cores) take files largest first from a
 * shared index, each with its own {@link FileHasher} (direct buffer + digest), so hashing runs
 * in parallel without locks. With a {@link HashCache} each worker first stats the file and
 * reuses the cached hash when (dev, inode, size, mtime, ctime) are unchanged; without one
 * (a full rescan, the benchmark's cold run) every file is read.
 *
 * <p>Names: a path with a control character in it is measured under an escaped key
 * ({@code \xHH} per such character, and {@code \\} for a backslash), so it can neither hide
 * from the report nor inject text into a reason.
 */
public final class FileCollector {
  private final int threads;

  public FileCollector() {
    this(Runtime.getRuntime().availableProcessors());
  }

  public FileCollector(int threads) {
    if (threads < 1) throw new IllegalArgumentException("threads must be >= 1");
    this.threads = threads;
  }

  /** What a scan did. */
  public record Stats(long files, long bytes, long hashedFiles, long hashedBytes, long cacheHits) {}

  public record Result(List<Measurement> measurements, Stats stats) {}

  private record Candidate(Path path, String key, long size, String linkTarget) {}

  /**
   * @param cache null for a scan that reads every file (a full rescan or a cold benchmark)
   */
  public Result scan(List<Path> roots, List<String> globs, HashCache cache, ScanProgress progress) throws IOException {
    long scanStart = System.currentTimeMillis() * 1_000_000L;
    List<PathMatcher> matchers = new ArrayList<>();
    for (String g : globs) matchers.add(FileSystems.getDefault().getPathMatcher("glob:" + g));
    List<Candidate> candidates = walk(roots, matchers);
    candidates.sort(Comparator.comparingLong(Candidate::size).reversed());
    long totalBytes = 0;
    for (Candidate c : candidates) totalBytes += c.size;
    progress.total(candidates.size(), totalBytes);

    ConcurrentHashMap<String, Measurement> out = new ConcurrentHashMap<>(candidates.size() * 2);
    AtomicInteger next = new AtomicInteger();
    AtomicLong hashedFiles = new AtomicLong();
    AtomicLong hashedBytes = new AtomicLong();
    AtomicLong hits = new AtomicLong();
    Runnable worker = () -> {
      FileHasher hasher = new FileHasher();
      int i;
      while ((i = next.getAndIncrement()) < candidates.size()) {
        Candidate c = candidates.get(i);
        if (c.linkTarget != null) {
          out.put(c.key, new Measurement(Measurement.Kind.FILE, c.key, "link:" + escape(c.linkTarget)));
          progress.advanced(1, 0);
          continue;
        }
        String value;
        try {
          HashCache.Stat stat = cache == null ? null : HashCache.Stat.of(c.path);
          byte[] h = stat == null ? null : cache.lookup(c.key, stat);
          if (h != null) {
            hits.incrementAndGet();
          } else {
            h = hasher.hash(c.path);
            hashedFiles.incrementAndGet();
            hashedBytes.addAndGet(c.size);
            if (cache != null) cache.store(c.key, stat, h, scanStart);
          }
          value = FileHasher.hex(h);
        } catch (IOException | SecurityException e) {
          value = "unreadable";
        }
        out.put(c.key, new Measurement(Measurement.Kind.FILE, c.key, value));
        progress.advanced(1, c.size);
      }
    };
    int n = Math.min(threads, Math.max(1, candidates.size()));
    if (n == 1) {
      worker.run();
    } else {
      List<Thread> ts = new ArrayList<>();
      for (int t = 0; t < n; t++) ts.add(Thread.ofPlatform().name("posture-hash-" + t).daemon().start(worker));
      for (Thread t : ts) {
        try {
          t.join();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IOException("interrupted while hashing");
        }
      }
    }
    progress.done();
    if (cache != null) {
      Set<String> seen = new HashSet<>(out.keySet());
      cache.retainOnly(seen);
    }
    List<Measurement> list = new ArrayList<>(out.values());
    return new Result(list, new Stats(candidates.size(), totalBytes, hashedFiles.get(), hashedBytes.get(), hits.get()));
  }

  private static List<Candidate> walk(List<Path> roots, List<PathMatcher> matchers) throws IOException {
    List<Candidate> found = new ArrayList<>();
    Set<String> keys = new HashSet<>();
    for (Path root : roots) {
      Path r = root.toAbsolutePath().normalize();
      if (!Files.exists(r, java.nio.file.LinkOption.NOFOLLOW_LINKS)) continue;
      Files.walkFileTree(r, new SimpleFileVisitor<>() {
        @Override
        public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
          if (!matches(matchers, file)) return FileVisitResult.CONTINUE;
          String key = escape(file.toString());
          if (!keys.add(key)) return FileVisitResult.CONTINUE; // overlapping roots
          if (attrs.isSymbolicLink()) {
            String target;
            try {
              target = Files.readSymbolicLink(file).toString();
            } catch (IOException e) {
              target = "?";
            }
            found.add(new Candidate(file, key, 0, target));
          } else if (attrs.isRegularFile()) {
            found.add(new Candidate(file, key, attrs.size(), null));
          }
          return FileVisitResult.CONTINUE;
        }

        @Override
        public FileVisitResult visitFileFailed(Path file, IOException exc) {
          return FileVisitResult.CONTINUE; // unreadable directories are skipped, not fatal
        }
      });
    }
    return found;
  }

  private static boolean matches(List<PathMatcher> matchers, Path file) {
    if (matchers.isEmpty()) return true;
    for (PathMatcher m : matchers) if (m.matches(file)) return true;
    return false;
  }

  /** Escapes control characters and backslashes so any name becomes a valid measurement key. */
  static String escape(String s) {
    StringBuilder b = null;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      boolean bad = c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) || c == '\\' || (Character.isSurrogate(c)
          && !(Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))));
      if (Character.isHighSurrogate(c) && !bad) {
        if (b != null) b.append(c).append(s.charAt(i + 1));
        i++;
        continue;
      }
      if (bad && b == null) b = new StringBuilder(s.substring(0, i));
      if (b != null) {
        if (!bad) b.append(c);
        else if (c == '\\') b.append("\\\\");
        else b.append(String.format("\\x%02x", (int) c & 0xffff));
      }
    }
    return b == null ? s : b.toString();
  }
}
