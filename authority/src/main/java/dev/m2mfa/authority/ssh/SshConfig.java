package dev.m2mfa.authority.ssh;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.regex.Pattern;

/**
 * The {@code ssh.*} options of {@code authority.conf}, validated once. They are read from the
 * same file as {@link dev.m2mfa.authority.AuthorityConfig} but kept in their own record so the
 * SSH CA can change without touching the core configuration (the policy engine will take
 * principals and lifetimes over later; see {@link SshGrantPolicy}).
 *
 * <table>
 * <tr><th>key</th><th>default</th><th>meaning</th></tr>
 * <tr><td>{@code ssh.ca_algorithm}</td><td>{@code ed25519}</td><td>{@code ed25519} or {@code ecdsa-p256}, for CAs created from now on</td></tr>
 * <tr><td>{@code ssh.user_certificate_seconds}</td><td>600</td><td>60-86400</td></tr>
 * <tr><td>{@code ssh.host_certificate_seconds}</td><td>86400</td><td>300-2592000</td></tr>
 * <tr><td>{@code ssh.principals.<class>}</td><td>the machine name</td><td>comma-separated user principals for machines of that class</td></tr>
 * <tr><td>{@code ssh.host_principals.<machine>}</td><td>none</td><td>extra host names (beside the machine name) in its host certificate</td></tr>
 * <tr><td>{@code ssh.force_command.<class>}</td><td>none</td><td>the {@code force-command} critical option</td></tr>
 * <tr><td>{@code ssh.extensions}</td><td>the five {@code permit-*}</td><td>comma-separated user-certificate extensions</td></tr>
 * </table>
 */
public record SshConfig(
    String caAlgorithm,
    Duration userValidity,
    Duration hostValidity,
    Map<String, List<String>> principalsByClass,
    Map<String, List<String>> hostPrincipalsByMachine,
    Map<String, String> forceCommandByClass,
    List<String> extensions) {

  public static final String ED25519 = "ed25519";
  public static final String ECDSA_P256 = "ecdsa-p256";
  /** OpenSSH splits principals on commas and shows them in logs: keep them plain. */
  static final Pattern PRINCIPAL = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9._@-]{0,63}");
  private static final List<String> KNOWN_EXTENSIONS = List.of("permit-X11-forwarding", "permit-agent-forwarding",
      "permit-port-forwarding", "permit-pty", "permit-user-rc", "no-touch-required");

  public SshConfig {
    if (!ED25519.equals(caAlgorithm) && !ECDSA_P256.equals(caAlgorithm)) {
      throw new IllegalArgumentException("ssh.ca_algorithm must be ed25519 or ecdsa-p256");
    }
    if (userValidity.toSeconds() < 60 || userValidity.toSeconds() > 86_400) {
      throw new IllegalArgumentException("ssh.user_certificate_seconds must be 60-86400");
    }
    if (hostValidity.toSeconds() < 300 || hostValidity.toSeconds() > 30L * 86_400) {
      throw new IllegalArgumentException("ssh.host_certificate_seconds must be 300-2592000");
    }
    principalsByClass = copyChecked(principalsByClass, "ssh.principals.");
    hostPrincipalsByMachine = copyChecked(hostPrincipalsByMachine, "ssh.host_principals.");
    for (var e : forceCommandByClass.entrySet()) {
      String cmd = e.getValue();
      if (cmd.isBlank() || cmd.length() > 1024 || cmd.chars().anyMatch(ch -> ch < 0x20 || ch == 0x7f)) {
        throw new IllegalArgumentException("ssh.force_command." + e.getKey() + " must be 1-1024 printable characters");
      }
    }
    forceCommandByClass = Map.copyOf(forceCommandByClass);
    for (String x : extensions) {
      if (!KNOWN_EXTENSIONS.contains(x)) throw new IllegalArgumentException("ssh.extensions: unknown extension " + x);
    }
    extensions = List.copyOf(extensions);
  }

  private static Map<String, List<String>> copyChecked(Map<String, List<String>> in, String prefix) {
    Map<String, List<String>> out = new LinkedHashMap<>();
    for (var e : in.entrySet()) {
      if (e.getValue().isEmpty() || e.getValue().size() > 32) {
        throw new IllegalArgumentException(prefix + e.getKey() + " must list 1-32 names");
      }
      for (String p : e.getValue()) {
        if (!PRINCIPAL.matcher(p).matches()) throw new IllegalArgumentException(prefix + e.getKey() + ": invalid name " + p);
      }
      out.put(e.getKey(), List.copyOf(e.getValue()));
    }
    return Map.copyOf(out);
  }

  public static SshConfig defaults() {
    return new SshConfig(ED25519, Duration.ofMinutes(10), Duration.ofDays(1), Map.of(), Map.of(), Map.of(),
        List.of("permit-X11-forwarding", "permit-agent-forwarding", "permit-port-forwarding", "permit-pty", "permit-user-rc"));
  }

  /** Reads the {@code ssh.*} keys of {@code authority.conf}; a missing file or key means the default. */
  public static SshConfig load(Path file) throws IOException {
    Properties p = new Properties();
    if (Files.exists(file)) {
      try (Reader r = Files.newBufferedReader(file)) {
        p.load(r);
      }
    }
    return from(p);
  }

  static SshConfig from(Properties p) {
    SshConfig d = defaults();
    Map<String, List<String>> principals = new LinkedHashMap<>();
    Map<String, List<String>> hostPrincipals = new LinkedHashMap<>();
    Map<String, String> force = new LinkedHashMap<>();
    for (String k : p.stringPropertyNames()) {
      if (k.startsWith("ssh.principals.")) principals.put(k.substring("ssh.principals.".length()), split(p.getProperty(k)));
      if (k.startsWith("ssh.host_principals.")) hostPrincipals.put(k.substring("ssh.host_principals.".length()), split(p.getProperty(k)));
      if (k.startsWith("ssh.force_command.")) force.put(k.substring("ssh.force_command.".length()), p.getProperty(k).strip());
    }
    try {
      return new SshConfig(p.getProperty("ssh.ca_algorithm", d.caAlgorithm).strip(),
          Duration.ofSeconds(Long.parseLong(p.getProperty("ssh.user_certificate_seconds", "" + d.userValidity.toSeconds()).strip())),
          Duration.ofSeconds(Long.parseLong(p.getProperty("ssh.host_certificate_seconds", "" + d.hostValidity.toSeconds()).strip())),
          principals, hostPrincipals, force,
          p.getProperty("ssh.extensions") == null ? d.extensions : split(p.getProperty("ssh.extensions")));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("authority.conf: an ssh.* duration is not a number");
    }
  }

  private static List<String> split(String s) {
    List<String> out = new ArrayList<>();
    for (String part : s.split(",")) if (!part.isBlank()) out.add(part.strip());
    return out;
  }
}
