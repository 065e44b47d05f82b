package dev.m2mfa.agent.posture;

import dev.m2mfa.api.posture.Measurement;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Kernel release ({@code /proc/sys/kernel/osrelease}) and OS release ({@code PRETTY_NAME} of /etc/os-release). */
public final class OsCollector {
  public List<Measurement> collect() {
    List<Measurement> out = new ArrayList<>();
    String kernel = firstLine(Path.of("/proc/sys/kernel/osrelease"));
    if (kernel != null) out.add(new Measurement(Measurement.Kind.OS, "kernel", kernel));
    String os = prettyName(Path.of("/etc/os-release"));
    if (os != null) out.add(new Measurement(Measurement.Kind.OS, "os", os));
    return out;
  }

  private static String firstLine(Path p) {
    try {
      List<String> lines = Files.readAllLines(p, StandardCharsets.UTF_8);
      return lines.isEmpty() ? null : clean(lines.getFirst());
    } catch (IOException e) {
      return null;
    }
  }

  static String prettyName(Path p) {
    try {
      if (Files.size(p) > 64 * 1024) return null;
      for (String line : Files.readAllLines(p, StandardCharsets.UTF_8)) {
        if (line.startsWith("PRETTY_NAME=")) {
          String v = line.substring("PRETTY_NAME=".length()).trim();
          if (v.length() >= 2 && (v.startsWith("\"") || v.startsWith("'"))) v = v.substring(1, v.length() - 1);
          return clean(v);
        }
      }
    } catch (IOException e) {
      // absent
    }
    return null;
  }

  private static String clean(String s) {
    String t = FileCollector.escape(s.trim());
    return t.isEmpty() ? null : t.length() > 512 ? t.substring(0, 512) : t;
  }
}
