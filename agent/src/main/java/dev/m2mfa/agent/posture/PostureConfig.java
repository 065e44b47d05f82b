package dev.m2mfa.agent.posture;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

/**
 * What the posture collectors measure, read from {@code agent.conf} (every option here, with
 * its default; an invalid value fails with a sentence naming the option):
 *
 * <pre>
 * posture.roots=/usr/sbin,/etc/ssh          # directories whose files are hashed (none by default)
 * posture.globs=**                          # glob(s) a file's absolute path must match (default: all)
 * posture.rescan_hours=24                   # full rescan ignoring the incremental cache
 * posture.packages=true                     # dpkg status, rpm -qa where rpm is installed
 * posture.processes=/                       # prefixes: report running executables under these ("none" = off)
 * posture.listeners=all                     # all | none | port ranges such as 1-32767,40000
 * posture.os=true                           # kernel and OS release
 * </pre>
 */
public record PostureConfig(List<Path> roots, List<String> globs, Duration rescanInterval, boolean packages,
    List<String> processPrefixes, List<int[]> listenerPorts, boolean listeners, boolean os) {

  public PostureConfig {
    roots = List.copyOf(roots);
    globs = List.copyOf(globs);
    processPrefixes = List.copyOf(processPrefixes);
    listenerPorts = List.copyOf(listenerPorts);
    for (Path r : roots) if (!r.isAbsolute()) throw new IllegalArgumentException("posture.roots: " + r + " is not an absolute path");
    if (rescanInterval.isNegative() || rescanInterval.isZero()) throw new IllegalArgumentException("posture.rescan_hours must be positive");
  }

  public static PostureConfig defaults() {
    return new PostureConfig(List.of(), List.of(), Duration.ofHours(24), true, List.of("/"), List.of(), true, true);
  }

  /** Files only, under {@code roots}: what the benchmark and baseline creation use. */
  public static PostureConfig filesOnly(List<Path> roots) {
    return new PostureConfig(roots, List.of(), Duration.ofHours(24), false, List.of(), List.of(), false, false);
  }

  public static PostureConfig from(Properties p) {
    List<Path> roots = split(p.getProperty("posture.roots", "")).stream().map(Path::of).toList();
    List<String> globs = split(p.getProperty("posture.globs", ""));
    long hours;
    try {
      hours = Long.parseLong(p.getProperty("posture.rescan_hours", "24").trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("posture.rescan_hours must be a whole number of hours");
    }
    String procs = p.getProperty("posture.processes", "/").trim();
    List<String> prefixes = procs.equals("none") ? List.of() : split(procs);
    String lis = p.getProperty("posture.listeners", "all").trim();
    boolean listeners = !lis.equals("none");
    List<int[]> ports = new ArrayList<>();
    if (listeners && !lis.equals("all")) {
      for (String r : split(lis)) {
        try {
          String[] ab = r.split("-", 2);
          int lo = Integer.parseInt(ab[0].trim());
          int hi = ab.length == 2 ? Integer.parseInt(ab[1].trim()) : lo;
          if (lo < 0 || hi > 65535 || lo > hi) throw new NumberFormatException();
          ports.add(new int[] {lo, hi});
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException("posture.listeners must be all, none or port ranges such as 1-32767");
        }
      }
    }
    return new PostureConfig(roots, globs, Duration.ofHours(hours), bool(p, "posture.packages"), prefixes, ports, listeners,
        bool(p, "posture.os"));
  }

  boolean listenerPortIncluded(int port) {
    if (listenerPorts.isEmpty()) return true;
    for (int[] r : listenerPorts) if (port >= r[0] && port <= r[1]) return true;
    return false;
  }

  boolean processIncluded(String exe) {
    for (String prefix : processPrefixes) {
      if (prefix.equals("/") || exe.equals(prefix) || exe.startsWith(prefix.endsWith("/") ? prefix : prefix + "/")) return true;
    }
    return false;
  }

  private static boolean bool(Properties p, String key) {
    String v = p.getProperty(key, "true").trim();
    if (v.equals("true")) return true;
    if (v.equals("false")) return false;
    throw new IllegalArgumentException(key + " must be true or false");
  }

  private static List<String> split(String s) {
    List<String> out = new ArrayList<>();
    for (String part : s.split(",")) if (!part.isBlank()) out.add(part.trim());
    return out;
  }
}
