package dev.m2mfa.agent.posture;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Small readers over Linux /proc shared by the process and listener collectors. Everything is
 * best effort: a process that exits mid-scan, or one this user may not inspect, is skipped.
 */
final class ProcFs {
  static final Path PROC = Path.of("/proc");

  private ProcFs() {}

  static List<Integer> pids() throws IOException {
    List<Integer> out = new ArrayList<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(PROC)) {
      for (Path p : ds) {
        String n = p.getFileName().toString();
        if (!n.isEmpty() && n.length() < 11 && n.chars().allMatch(Character::isDigit)) out.add(Integer.parseInt(n));
      }
    }
    return out;
  }

  /** The executable path of {@code pid} ({@code /proc/PID/exe}), or null if not permitted or gone. */
  static String exe(int pid) {
    try {
      return Files.readSymbolicLink(PROC.resolve(Integer.toString(pid)).resolve("exe")).toString();
    } catch (IOException | SecurityException | UnsupportedOperationException e) {
      return null;
    }
  }

  /** Socket inode -> pid, from the /proc/PID/fd links this user may read. */
  static Map<Long, Integer> socketOwners() throws IOException {
    Map<Long, Integer> out = new HashMap<>();
    for (int pid : pids()) {
      Path fd = PROC.resolve(Integer.toString(pid)).resolve("fd");
      try (DirectoryStream<Path> ds = Files.newDirectoryStream(fd)) {
        for (Path f : ds) {
          try {
            String t = Files.readSymbolicLink(f).toString();
            if (t.startsWith("socket:[") && t.endsWith("]")) out.putIfAbsent(Long.parseLong(t.substring(8, t.length() - 1)), pid);
          } catch (IOException | NumberFormatException e) {
            // fd closed meanwhile
          }
        }
      } catch (IOException | SecurityException e) {
        // not permitted or gone
      }
    }
    return out;
  }
}
