package dev.m2mfa.agent.posture;

import dev.m2mfa.api.posture.Measurement;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * Running executables: for every process this user may inspect, the path {@code /proc/PID/exe}
 * points to and the SHA-256 of the image read through that link (which still works when the
 * file was deleted or replaced after start: the value is then {@code deleted:HASH}). One entry
 * per distinct executable; processes of other users are skipped where the kernel forbids the
 * read (run the agent as root to see them all). A process that exits mid-scan is skipped.
 */
public final class ProcessCollector {
  private static final String DELETED = " (deleted)";

  /** @param include which executables to report (configured path prefixes) */
  public List<Measurement> collect(Predicate<String> include) throws IOException {
    return collect(include, null);
  }

  /**
   * @param cache hashes of images already seen, keyed by path and the image's (dev, inode,
   *     size, mtime, ctime): a long-running agent then reads an executable once, not per login
   */
  public List<Measurement> collect(Predicate<String> include, HashCache cache) throws IOException {
    Map<String, Measurement> byExe = new LinkedHashMap<>();
    FileHasher hasher = new FileHasher();
    for (int pid : ProcFs.pids()) {
      String exe = ProcFs.exe(pid);
      if (exe == null) continue;
      boolean deleted = exe.endsWith(DELETED);
      String path = FileCollector.escape(deleted ? exe.substring(0, exe.length() - DELETED.length()) : exe);
      if (!include.test(path) || byExe.containsKey(path)) continue;
      String value;
      try {
        Path link = exeLink(pid);
        HashCache.Stat stat = cache == null ? null : HashCache.Stat.ofTarget(link);
        byte[] h = stat == null ? null : cache.lookup(path, stat);
        if (h == null) {
          h = hasher.hash(link, true);
          if (cache != null) cache.store(path, stat, h, System.currentTimeMillis() * 1_000_000L);
        }
        value = FileHasher.hex(h);
        if (deleted) value = "deleted:" + value;
      } catch (IOException | SecurityException e) {
        value = deleted ? "deleted" : "unreadable";
      }
      try {
        byExe.put(path, new Measurement(Measurement.Kind.PROCESS, path, value));
      } catch (IllegalArgumentException e) {
        // not an absolute normalized path (a kernel thread has no exe; anything else is odd): skip
      }
    }
    return new ArrayList<>(byExe.values());
  }

  static Path exeLink(int pid) {
    return ProcFs.PROC.resolve(Integer.toString(pid)).resolve("exe");
  }
}
