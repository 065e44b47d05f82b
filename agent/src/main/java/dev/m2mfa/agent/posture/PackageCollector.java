package dev.m2mfa.agent.posture;

import dev.m2mfa.api.posture.Measurement;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Installed packages: the dpkg status database (only stanzas whose Status is
 * {@code install ok installed}) and, where rpm is installed and has a database, {@code rpm -qa}.
 * Parsed by hand: the dpkg status format is a few RFC 822-like stanzas and no maintained Java
 * library reads it. Input is bounded (64 MiB of status, 200,000 packages) and a malformed
 * stanza is skipped, not fatal.
 */
public final class PackageCollector {
  public static final Path DPKG_STATUS = Path.of("/var/lib/dpkg/status");
  private static final long MAX_STATUS_BYTES = 64L << 20;
  private static final int MAX_PACKAGES = 200_000;

  public List<Measurement> collect() throws IOException {
    List<Measurement> out = new ArrayList<>();
    if (Files.isRegularFile(DPKG_STATUS)) out.addAll(dpkg(DPKG_STATUS));
    if (Files.isExecutable(Path.of("/usr/bin/rpm")) && Files.isDirectory(Path.of("/var/lib/rpm"))) out.addAll(rpm());
    return dedupe(out);
  }

  /** Parses a dpkg status file. */
  public static List<Measurement> dpkg(Path status) throws IOException {
    if (Files.size(status) > MAX_STATUS_BYTES) throw new IOException("dpkg status larger than " + MAX_STATUS_BYTES + " bytes");
    List<Measurement> out = new ArrayList<>();
    try (BufferedReader r = Files.newBufferedReader(status, StandardCharsets.UTF_8)) {
      Map<String, String> stanza = new HashMap<>();
      String line;
      while (true) {
        line = r.readLine();
        if (line == null || line.isEmpty()) {
          addDpkg(stanza, out);
          stanza.clear();
          if (line == null) break;
          continue;
        }
        if (line.startsWith(" ") || line.startsWith("\t")) continue; // continuation (descriptions, conffiles)
        int colon = line.indexOf(':');
        if (colon > 0) stanza.put(line.substring(0, colon), line.substring(colon + 1).trim());
        if (out.size() > MAX_PACKAGES) throw new IOException("more than " + MAX_PACKAGES + " packages");
      }
    }
    return out;
  }

  private static void addDpkg(Map<String, String> s, List<Measurement> out) {
    String name = s.get("Package");
    String version = s.get("Version");
    if (name == null || version == null || !"install ok installed".equals(s.get("Status"))) return;
    String arch = s.getOrDefault("Architecture", "");
    try {
      out.add(new Measurement(Measurement.Kind.PACKAGE, name + (arch.isEmpty() ? "" : ":" + arch), version));
    } catch (IllegalArgumentException e) {
      // a name or version with control characters: not a package dpkg itself would accept
    }
  }

  private static List<Measurement> rpm() throws IOException {
    Process p = new ProcessBuilder("/usr/bin/rpm", "-qa", "--qf", "%{NAME}\t%{ARCH}\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\n")
        .redirectErrorStream(false).redirectError(ProcessBuilder.Redirect.DISCARD).start();
    List<Measurement> out = new ArrayList<>();
    try (InputStream in = p.getInputStream(); BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
      String line;
      while ((line = r.readLine()) != null && out.size() < MAX_PACKAGES) {
        String[] f = line.split("\t");
        if (f.length != 3) continue;
        try {
          out.add(new Measurement(Measurement.Kind.PACKAGE, f[0] + ":" + f[1], f[2]));
        } catch (IllegalArgumentException e) {
          // skip
        }
      }
      if (!p.waitFor(30, TimeUnit.SECONDS)) p.destroyForcibly();
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new IOException("interrupted");
    }
    return out;
  }

  /**
   * One entry per key: the name alone when only one architecture of it is installed,
   * {@code name:arch} otherwise. Keys are the identity rules match on ("forbidden package nmap").
   */
  static List<Measurement> dedupe(List<Measurement> withArch) {
    Map<String, Integer> byName = new HashMap<>();
    for (Measurement m : withArch) byName.merge(baseName(m.key()), 1, Integer::sum);
    Map<String, Measurement> out = new java.util.LinkedHashMap<>();
    for (Measurement m : withArch) {
      String name = baseName(m.key());
      String key = byName.get(name) == 1 ? name : m.key();
      out.putIfAbsent(key, new Measurement(Measurement.Kind.PACKAGE, key, m.value()));
    }
    return new ArrayList<>(out.values());
  }

  /** {@code nmap:amd64} -> {@code nmap}. */
  public static String baseName(String key) {
    int colon = key.indexOf(':');
    return colon < 0 ? key : key.substring(0, colon);
  }
}
