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
import java.util.Optional;
import java.util.Properties;

/**
 * Every authority option with its default, in one immutable, validated object. Stored as
 * {@code authority.conf} (Java properties) in the authority's directory.
 *
 * @param policyClasses machine class -> factors all required (the full policy engine later
 *     replaces this list with all-of / k-of-n groups and assurance levels)
 * @param options the factors' own settings, by dotted name (e.g. {@code otp_chain.alert_webhook});
 *     each factor validates its own
 * @param policyClasses machine class -> factors all required (the legacy policy:
 *     {@code dev.m2mfa.authority.policy.Policy.fromLegacyClasses})
 * @param policyPath {@code policy=PATH}: a policy file or a directory of {@code *.yaml} policy
 *     files (docs/policy.md), resolved against the directory of {@code authority.conf}; when
 *     present it replaces the {@code class.*} lines
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
    Map<String, String> options,
    Optional<Path> policyPath) {

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
    options = Map.copyOf(options);
    policyPath = policyPath == null ? Optional.empty() : policyPath;
  }

  /** Without a policy file and factor options: the {@code class.*} lines are the policy. */
  public AuthorityConfig(String trustDomain, String listenHost, int listenPort, Duration tokenLifetime, Duration certificateLifetime,
      Duration heartbeatInterval, Duration signingKeyRotation, List<Cidr> trustedProxies, Map<String, List<String>> policyClasses) {
    this(trustDomain, listenHost, listenPort, tokenLifetime, certificateLifetime, heartbeatInterval, signingKeyRotation, trustedProxies,
        policyClasses, Map.of(), Optional.empty());
  }

  /** A factor's option, if set. */
  public java.util.Optional<String> option(String name) {
    return java.util.Optional.ofNullable(options.get(name));
  }

  /** A factor's option with a default. */
  public String pluginOption(String name, String defaultValue) {
    return options.getOrDefault(name, defaultValue);
  }

  /** The factors' options (the same as {@link #options()}). */
  public Map<String, String> pluginOptions() {
    return options;
  }

  /** The same configuration with {@code more} factor options added (replacing same-named ones). */
  public AuthorityConfig withPluginOptions(Map<String, String> more) {
    Map<String, String> o = new LinkedHashMap<>(options);
    o.putAll(more);
    return new AuthorityConfig(trustDomain, listenHost, listenPort, tokenLifetime, certificateLifetime, heartbeatInterval,
        signingKeyRotation, trustedProxies, policyClasses, o, policyPath);
  }

  public AuthorityConfig withOption(String name, String value) {
    Map<String, String> o = new LinkedHashMap<>(options);
    o.put(name, value);
    return new AuthorityConfig(trustDomain, listenHost, listenPort, tokenLifetime, certificateLifetime, heartbeatInterval,
        signingKeyRotation, trustedProxies, policyClasses, o, policyPath);
  }

  /** Option names with a dot that belong to factors; everything else is a core key. */
  private static final java.util.Set<String> CORE_KEYS = java.util.Set.of("trust_domain", "listen_host", "listen_port",
      "token_lifetime_seconds", "certificate_lifetime_seconds", "heartbeat_millis", "signing_key_rotation_hours", "trusted_proxies", "policy");

  public static AuthorityConfig defaults() {
    return new AuthorityConfig("m2mfa.local", "127.0.0.1", 8443, Duration.ofMinutes(5), Duration.ofHours(1),
        Duration.ofSeconds(1), Duration.ofHours(24), List.of(), Map.of("default", List.of("key", "network", "otp-chain")), Map.of(),
        Optional.empty());
  }

  public String issuer() {
    return "spiffe://" + trustDomain;
  }

  public AuthorityConfig withListen(String host, int port) {
    return new AuthorityConfig(trustDomain, host, port, tokenLifetime, certificateLifetime, heartbeatInterval,
        signingKeyRotation, trustedProxies, policyClasses, options, policyPath);
  }

  public AuthorityConfig withHeartbeat(Duration d) {
    return new AuthorityConfig(trustDomain, listenHost, listenPort, tokenLifetime, certificateLifetime, d,
        signingKeyRotation, trustedProxies, policyClasses, options, policyPath);
  }

  public AuthorityConfig withPolicyClasses(Map<String, List<String>> classes) {
    return new AuthorityConfig(trustDomain, listenHost, listenPort, tokenLifetime, certificateLifetime, heartbeatInterval,
        signingKeyRotation, trustedProxies, classes, options, policyPath);
  }

  public AuthorityConfig withTrustedProxies(List<Cidr> proxies) {
    return new AuthorityConfig(trustDomain, listenHost, listenPort, tokenLifetime, certificateLifetime, heartbeatInterval,
        signingKeyRotation, proxies, policyClasses, options, policyPath);
  }

  /** The same configuration with {@code policy=} set to {@code path} (a file or directory). */
  public AuthorityConfig withPolicyPath(Path path) {
    return new AuthorityConfig(trustDomain, listenHost, listenPort, tokenLifetime, certificateLifetime, heartbeatInterval,
        signingKeyRotation, trustedProxies, policyClasses, options, Optional.of(path));
  }

  public static AuthorityConfig load(Path file) throws IOException {
    Properties p = new Properties();
    try (Reader r = Files.newBufferedReader(file)) {
      p.load(r);
    }
    AuthorityConfig d = defaults();
    Map<String, List<String>> classes = new LinkedHashMap<>();
    Map<String, String> options = new java.util.TreeMap<>();
    for (String k : p.stringPropertyNames()) {
      if (k.startsWith("class.")) classes.put(k.substring(6), splitList(p.getProperty(k)));
      else if (!CORE_KEYS.contains(k) && k.matches("[a-z][a-z0-9_-]*\\.[A-Za-z0-9_.-]+")) options.put(k, p.getProperty(k).strip());
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
          classes.isEmpty() ? d.policyClasses : classes, options,
          policyPath(file, p.getProperty("policy")));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(file.getFileName() + ": a numeric option is not a number");
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(file.getFileName() + ": " + e.getMessage());
    }
  }

  private static Optional<Path> policyPath(Path configFile, String value) {
    if (value == null) return Optional.empty();
    if (value.isBlank()) throw new IllegalArgumentException("policy must name a policy file or directory");
    try {
      Path base = configFile.toAbsolutePath().getParent();
      return Optional.of(base.resolve(value.strip()).normalize());
    } catch (java.nio.file.InvalidPathException e) {
      throw new IllegalArgumentException("policy is not a valid path");
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
      if (!options.isEmpty()) w.write("# factor options\n");
      for (var e : new java.util.TreeMap<>(options).entrySet()) w.write(e.getKey() + "=" + e.getValue() + "\n");
      if (policyPath.isPresent()) {
        w.write("# policy files (docs/policy.md); they replace the class lines above\n");
        w.write("policy=" + policyPath.get().toString().replace("\\", "\\\\") + "\n");
      }
    }
  }

  private static List<String> splitList(String s) {
    List<String> out = new ArrayList<>();
    for (String part : s.split(",")) if (!part.isBlank()) out.add(part.strip());
    return out;
  }
}
