package dev.m2mfa.authority;

import dev.m2mfa.api.Cidr;
import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * Every authority option with its default, in one immutable, validated object. Stored as
 * {@code authority.conf} (Java properties) in the authority's directory.
 *
 * @param policyClasses machine class -> factors all required (the full policy engine later
 *     replaces this list with all-of / k-of-n groups and assurance levels)
 * @param pluginOptions options a factor reads under its own prefix ({@code <factor>.<option>},
 *     e.g. {@code hardware.trust_pkcs11.<class>=true}); kept as text, validated by the factor
 */
public record AuthorityConfig(
    String trustDomain,
    String listenHost,
    int listenPort,
    Duration tokenLifetime,
    Duration certificateLifetime,
    Duration heartbeatInterval,
    Duration signingKeyRotation,
    List<Cidr> trustedProxies,
    Map<String, List<String>> policyClasses,
    Map<String, String> pluginOptions) {

  public static final Duration MAX_TOKEN_LIFETIME = Duration.ofMinutes(5);
  private static final String PLUGIN_OPTION = "[a-z][a-z0-9-]{0,31}\\.[A-Za-z0-9_.-]{1,200}";

  public AuthorityConfig {
    if (trustDomain == null || !trustDomain.matches("[a-z0-9]([a-z0-9.-]{0,250}[a-z0-9])?")) {
      throw new IllegalArgumentException("trust_domain must be a lowercase DNS-like name, e.g. m2mfa.local");
    }
    if (listenPort < 0 || listenPort > 65535) throw new IllegalArgumentException("listen_port must be 0-65535");
    if (tokenLifetime.isNegative() || tokenLifetime.isZero() || tokenLifetime.compareTo(MAX_TOKEN_LIFETIME) > 0) {
      throw new IllegalArgumentException("token_lifetime_seconds must be 1-300");
    }
    if (certificateLifetime.compareTo(Duration.ofMinutes(1)) < 0 || certificateLifetime.compareTo(Duration.ofDays(1)) > 0) {
      throw new IllegalArgumentException("certificate_lifetime_seconds must be 60-86400");
    }
    if (heartbeatInterval.toMillis() < 50 || heartbeatInterval.toMillis() > 10_000) {
      throw new IllegalArgumentException("heartbeat_millis must be 50-10000");
    }
    if (signingKeyRotation.toHours() < 1 || signingKeyRotation.toHours() > 24 * 365) {
      throw new IllegalArgumentException("signing_key_rotation_hours must be 1-8760");
    }
    if (policyClasses.isEmpty()) throw new IllegalArgumentException("at least one policy class (class.NAME=factors) is required");
    for (var e : policyClasses.entrySet()) {
      if (!e.getValue().contains("key")) {
        throw new IllegalArgumentException("class." + e.getKey() + " must require the key factor: tokens are bound to that key");
      }
    }
    trustedProxies = List.copyOf(trustedProxies);
    policyClasses = Map.copyOf(policyClasses);
    pluginOptions = Map.copyOf(new java.util.TreeMap<>(pluginOptions));
    for (String k : pluginOptions.keySet()) {
      if (!k.matches(PLUGIN_OPTION)) throw new IllegalArgumentException("option " + k + " is not <factor>.<option>");
    }
  }

  /** Without plug-in options (configurations written before they existed). */
  public AuthorityConfig(String trustDomain, String listenHost, int listenPort, Duration tokenLifetime, Duration certificateLifetime,
      Duration heartbeatInterval, Duration signingKeyRotation, List<Cidr> trustedProxies, Map<String, List<String>> policyClasses) {
    this(trustDomain, listenHost, listenPort, tokenLifetime, certificateLifetime, heartbeatInterval, signingKeyRotation, trustedProxies,
        policyClasses, Map.of());
  }

  /** The plug-in option {@code name} (e.g. {@code hardware.attestation_roots}), or {@code defaultValue}. */
  public String pluginOption(String name, String defaultValue) {
    return pluginOptions.getOrDefault(name, defaultValue);
  }

  public AuthorityConfig withPolicyClasses(Map<String, List<String>> classes) {
    return new AuthorityConfig(trustDomain, listenHost, listenPort, tokenLifetime, certificateLifetime, heartbeatInterval,
        signingKeyRotation, trustedProxies, classes, pluginOptions);
  }

  public AuthorityConfig withPluginOptions(Map<String, String> options) {
    return new AuthorityConfig(trustDomain, listenHost, listenPort, tokenLifetime, certificateLifetime, heartbeatInterval,
        signingKeyRotation, trustedProxies, policyClasses, options);
  }

  public static AuthorityConfig defaults() {
    return new AuthorityConfig("m2mfa.local", "127.0.0.1", 8443, Duration.ofMinutes(5), Duration.ofHours(1),
        Duration.ofSeconds(1), Duration.ofHours(24), List.of(), Map.of("default", List.of("key", "network")));
  }

  public String issuer() {
    return "spiffe://" + trustDomain;
  }

  public AuthorityConfig withListen(String host, int port) {
    return new AuthorityConfig(trustDomain, host, port, tokenLifetime, certificateLifetime, heartbeatInterval,
        signingKeyRotation, trustedProxies, policyClasses, pluginOptions);
  }

  public AuthorityConfig withHeartbeat(Duration d) {
    return new AuthorityConfig(trustDomain, listenHost, listenPort, tokenLifetime, certificateLifetime, d,
        signingKeyRotation, trustedProxies, policyClasses, pluginOptions);
  }

  public AuthorityConfig withTrustedProxies(List<Cidr> proxies) {
    return new AuthorityConfig(trustDomain, listenHost, listenPort, tokenLifetime, certificateLifetime, heartbeatInterval,
        signingKeyRotation, proxies, policyClasses, pluginOptions);
  }

  public static AuthorityConfig load(Path file) throws IOException {
    Properties p = new Properties();
    try (Reader r = Files.newBufferedReader(file)) {
      p.load(r);
    }
    AuthorityConfig d = defaults();
    Map<String, List<String>> classes = new LinkedHashMap<>();
    Map<String, String> plugins = new LinkedHashMap<>();
    for (String k : p.stringPropertyNames()) {
      if (k.startsWith("class.")) classes.put(k.substring(6), splitList(p.getProperty(k)));
      else if (k.matches(PLUGIN_OPTION)) plugins.put(k, p.getProperty(k).strip());
    }
    try {
      return new AuthorityConfig(
          p.getProperty("trust_domain", d.trustDomain),
          p.getProperty("listen_host", d.listenHost),
          Integer.parseInt(p.getProperty("listen_port", "" + d.listenPort)),
          Duration.ofSeconds(Long.parseLong(p.getProperty("token_lifetime_seconds", "" + d.tokenLifetime.toSeconds()))),
          Duration.ofSeconds(Long.parseLong(p.getProperty("certificate_lifetime_seconds", "" + d.certificateLifetime.toSeconds()))),
          Duration.ofMillis(Long.parseLong(p.getProperty("heartbeat_millis", "" + d.heartbeatInterval.toMillis()))),
          Duration.ofHours(Long.parseLong(p.getProperty("signing_key_rotation_hours", "" + d.signingKeyRotation.toHours()))),
          splitList(p.getProperty("trusted_proxies", "")).stream().map(Cidr::parse).toList(),
          classes.isEmpty() ? d.policyClasses : classes,
          plugins);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(file.getFileName() + ": a numeric option is not a number");
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(file.getFileName() + ": " + e.getMessage());
    }
  }

  public void write(Path file) throws IOException {
    try (Writer w = Files.newBufferedWriter(file)) {
      w.write("# m2mfa authority configuration\n");
      w.write("trust_domain=" + trustDomain + "\n");
      w.write("listen_host=" + listenHost + "\n");
      w.write("listen_port=" + listenPort + "\n");
      w.write("token_lifetime_seconds=" + tokenLifetime.toSeconds() + "\n");
      w.write("certificate_lifetime_seconds=" + certificateLifetime.toSeconds() + "\n");
      w.write("heartbeat_millis=" + heartbeatInterval.toMillis() + "\n");
      w.write("signing_key_rotation_hours=" + signingKeyRotation.toHours() + "\n");
      w.write("# CIDRs of reverse proxies whose X-Forwarded-For is believed\n");
      w.write("trusted_proxies=" + String.join(",", trustedProxies.stream().map(Cidr::toString).toList()) + "\n");
      w.write("# machine classes: the factors each requires (all of them)\n");
      for (var e : policyClasses.entrySet()) w.write("class." + e.getKey() + "=" + String.join(",", e.getValue()) + "\n");
      if (!pluginOptions.isEmpty()) w.write("# factor plug-in options (<factor>.<option>)\n");
      for (var e : new java.util.TreeMap<>(pluginOptions).entrySet()) w.write(e.getKey() + "=" + e.getValue() + "\n");
    }
  }

  private static List<String> splitList(String s) {
    List<String> out = new ArrayList<>();
    for (String part : s.split(",")) if (!part.isBlank()) out.add(part.strip());
    return out;
  }
}
