package dev.m2mfa.agent.posture;

import dev.m2mfa.api.posture.Measurement;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.RecursiveAction;
import java.util.concurrent.atomic.AtomicLong;

/**
 * File measurements over configured roots (Tripwire-style): every regular file under a root
 * whose absolute path matches the globs gets its SHA-256; a symlink gets {@code link:TARGET}
 * (a binary swapped for a link to /tmp is a change too); a file that cannot be read gets
 * {@code unreadable}.
 *
 * <p>Design: a fork/join pool of {@code threads} workers (default: the cores); each task lists
 * one directory, measures its files on the spot and forks its subdirectories, so walking and
 * hashing both run in parallel and idle workers steal directories. Each worker has its own
 * {@link FileHasher} (direct buffer + digest); results go into one concurrent map. No symlink
 * is followed and no file system boundary is skipped. With a {@link HashCache} each worker
 * first stats the file and reuses the cached hash when (dev, inode, size, mtime, ctime) are
 * unchanged; without one (a full rescan, the benchmark's cold run) every file is read.
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
    progress.total(0, 0);
    Scan scan = new Scan(matchers, cache, progress, scanStart);
    ForkJoinPool pool = new ForkJoinPool(threads);
    try {
      List<ForkJoinTask<?>> tasks = new ArrayList<>();
      for (Path root : roots) {
        Path r = root.toAbsolutePath().normalize();
        BasicFileAttributes a;
        try {
          a = Files.readAttributes(r, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (IOException e) {
          continue; // an absent root measures nothing
        }
        if (a.isDirectory()) tasks.add(pool.submit(new DirectoryTask(scan, r)));
        else scan.entry(r, a);
      }
      for (ForkJoinTask<?> t : tasks) t.join();
    } finally {
      pool.shutdownNow();
    }
    progress.done();
    if (cache != null) cache.retainOnly(new HashSet<>(scan.out.keySet()));
    return new Result(new ArrayList<>(scan.out.values()), new Stats(scan.files.get(), scan.bytes.get(), scan.hashedFiles.get(),
        scan.hashedBytes.get(), scan.hits.get()));
  }

  /** Shared state of one scan; per-thread hashers (direct buffer + digest) live in a ThreadLocal of the scan. */
  private static final class Scan {
    final List<PathMatcher> matchers;
    final HashCache cache;
    final ScanProgress progress;
    final long scanStart;
    final ConcurrentHashMap<String, Measurement> out = new ConcurrentHashMap<>();
    final AtomicLong files = new AtomicLong();
    final AtomicLong bytes = new AtomicLong();
    final AtomicLong hashedFiles = new AtomicLong();
    final AtomicLong hashedBytes = new AtomicLong();
    final AtomicLong hits = new AtomicLong();
    final ThreadLocal<FileHasher> hashers = ThreadLocal.withInitial(FileHasher::new);

    Scan(List<PathMatcher> matchers, HashCache cache, ScanProgress progress, long scanStart) {
      this.matchers = matchers;
      this.cache = cache;
      this.progress = progress;
      this.scanStart = scanStart;
    }

    void entry(Path file, BasicFileAttributes attrs) {
      if (!(attrs.isRegularFile() || attrs.isSymbolicLink()) || !matches(matchers, file)) return;
      String key = escape(file.toString());
      if (out.containsKey(key)) return; // overlapping roots
      files.incrementAndGet();
      if (attrs.isSymbolicLink()) {
        String target;
        try {
          target = Files.readSymbolicLink(file).toString();
        } catch (IOException e) {
          target = "?";
        }
        out.putIfAbsent(key, new Measurement(Measurement.Kind.FILE, key, "link:" + escape(target)));
        progress.advanced(1, 0);
        return;
      }
      long size = attrs.size();
      bytes.addAndGet(size);
      String value;
      try {
        HashCache.Stat stat = cache == null ? null : HashCache.Stat.of(file);
        byte[] h = stat == null ? null : cache.lookup(key, stat);
        if (h != null) {
          hits.incrementAndGet();
        } else {
          h = hashers.get().hash(file);
          hashedFiles.incrementAndGet();
          hashedBytes.addAndGet(size);
          if (cache != null) cache.store(key, stat, h, scanStart);
        }
        value = FileHasher.hex(h);
      } catch (IOException | SecurityException e) {
        value = "unreadable";
      }
      out.putIfAbsent(key, new Measurement(Measurement.Kind.FILE, key, value));
      progress.advanced(1, size);
    }
  }

  /**
   * Lists one directory: files are measured on the spot, subdirectories become new tasks, so
   * walking and hashing both spread over the pool (a single walker thread was a third of the
   * time on a tree of small files). Symlinks to directories are measured as links, not followed.
   */
  private static final class DirectoryTask extends RecursiveAction {
    private final Scan scan;
    private final Path dir;

    DirectoryTask(Scan scan, Path dir) {
      this.scan = scan;
      this.dir = dir;
    }

    @Override
    protected void compute() {
      List<DirectoryTask> subdirs = new ArrayList<>();
      try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
        for (Path p : ds) {
          BasicFileAttributes a;
          try {
            a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
          } catch (IOException e) {
            continue; // vanished meanwhile
          }
          if (a.isDirectory()) subdirs.add(new DirectoryTask(scan, p));
          else scan.entry(p, a);
        }
      } catch (IOException | SecurityException e) {
        return; // unreadable directory: skipped, not fatal
      }
      invokeAll(subdirs);
    }
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
